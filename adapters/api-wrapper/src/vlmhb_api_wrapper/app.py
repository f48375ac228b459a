"""The app factory: the server's services, its guards and error handlers, its routers.

``create_app`` takes a backend instance, so the same app serves a packaged backend (found by
entry point in the CLI) or one a test or benchmark builds itself. The routes live in
:mod:`vlmhb_api_wrapper.routes` (one router per area), the services in
:class:`~vlmhb_api_wrapper.server_state.ServerState`, reached through
:mod:`vlmhb_api_wrapper.dependencies`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from PIL import Image

from vlmhb_api_wrapper.backend import Backend
from vlmhb_api_wrapper.error_handlers import install_error_handlers
from vlmhb_api_wrapper.guards import BodySizeLimit, KeyCheck
from vlmhb_api_wrapper.lifespan import lifespan
from vlmhb_api_wrapper.masking import install_secret_masking
from vlmhb_api_wrapper.routes import ROUTERS
from vlmhb_api_wrapper.routes.chat import LATENCY_HEADER
from vlmhb_api_wrapper.server_state import ServerState
from vlmhb_api_wrapper.settings import ServerSettings

__all__ = ["LATENCY_HEADER", "create_app"]


def create_app(
    backend: Backend,
    settings: ServerSettings | None = None,
    *,
    initial_config: dict[str, Any] | None = None,
    backend_distribution: str | None = None,
    backend_version: str | None = None,
) -> FastAPI:
    """An app serving ``backend``; ``initial_config`` (or the backend's default) loads at start."""
    settings = settings or ServerSettings()
    server = ServerState(
        backend,
        settings,
        startup_config=backend.default_config() if initial_config is None else initial_config,
        backend_distribution=backend_distribution,
        backend_version=backend_version,
    )
    install_secret_masking(server.masker)
    if Image.MAX_IMAGE_PIXELS is not None and settings.max_image_pixels > Image.MAX_IMAGE_PIXELS:
        # Pillow refuses past 2x its own limit; ours is checked first, so Pillow's may follow it
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels

    app = FastAPI(title="VLMHyperBench API wrapper", lifespan=lifespan)
    app.state.server = server
    install_error_handlers(app)
    # added last = outermost: the key is checked before the body size, before any body is read
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    app.add_middleware(KeyCheck, server=server)
    for router in ROUTERS:
        app.include_router(router)
    return app
