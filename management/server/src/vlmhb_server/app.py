"""The app factory: lifespan (migrate, recover, supervise), middleware and the routers.

The routes live in :mod:`vlmhb_server.routers`, one module per area, and get what they need
through the dependencies of :mod:`vlmhb_server.services`; the raw ASGI guards (token, body
size, NUL, security headers) wrap them in the order set here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI

from . import search
from ._version import __version__
from .auth import TokenAuth, install_log_redaction
from .dashboard import add_dashboard
from .guards import BodyLimit, RejectNul, SecurityHeaders
from .migrate import check_schema, head_revision, migrate
from .routers import ROUTERS
from .services import Services
from .settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """The server as an ASGI app; migrations run and workers start when it starts."""
    services = Services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(services):
            yield

    app = FastAPI(
        title="VLMHyperBench management server",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.services = services
    # the last added runs first: NUL check, then the token (401/403 before any body is read),
    # then the body limit
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TokenAuth, store=services.tokens)
    app.add_middleware(RejectNul)
    for router in ROUTERS:
        app.include_router(router)
    add_dashboard(app)  # the built web UI at / (outside the token check; see dashboard.py)
    app.add_middleware(SecurityHeaders)  # outermost: every answer gets the headers
    return app


@contextlib.asynccontextmanager
async def _running(services: Services) -> AsyncIterator[None]:
    """Migrate (or check the schema), supervise the queue when this process holds the lock
    (else wait for it), and stop all of it when the app stops."""
    settings = services.settings
    install_log_redaction()
    settings.create_dirs()
    if settings.migrate_on_start:
        services.schema = await migrate(services.database)
    else:  # `vlmhb-server --workers N` migrated once, before starting the N processes
        await check_schema(services.database)
        services.schema = head_revision()
    services.samples.backend = await search.detect(services.database.engine)
    await services.samples.warm()
    services.samples.start_watching()
    _freeze_startup_heap()
    leading: asyncio.Task[None] | None = None
    if services.supervisor_lock.try_acquire():
        await services.supervisor.start()
    else:
        leading = asyncio.create_task(services.lead())
    try:
        yield
    finally:
        if leading is not None:
            leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leading
        if services.supervisor_lock.held:
            await services.supervisor.shutdown()
            services.supervisor_lock.release()
        await services.feeds.close()
        await services.samples.stop_watching()
        services.samples.close()
        await services.database.dispose()


def _freeze_startup_heap() -> None:
    """Leave what startup made (modules, the app, SQLAlchemy's and pydantic's tables: ~100k
    objects) out of every later garbage collection.

    A full collection walks every tracked object, and while it runs the process answers
    nothing: under load that was a 30-150 ms stall of every request in flight, a few times a
    second, and it was the p99 of every route, ``/api/health`` included. Those objects live as
    long as the process, so walking them finds nothing; ``gc.freeze`` (the standard library's
    answer for long-lived servers) moves them out of reach. Requests' own garbage is still
    collected as before."""
    gc.collect()
    gc.freeze()


__all__ = ["create_app"]
