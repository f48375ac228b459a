"""Serves the React dashboard built by ``management/web`` (``npm run build`` writes ``static/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import FileResponse, PlainTextResponse

STATIC = Path(__file__).parent / "static"


def add_dashboard(app: FastAPI, folder: Path = STATIC) -> None:
    """Answer every GET outside ``/api`` with the dashboard: ``/assets/*`` as files, any other
    path (a deep link such as ``/experiments/3/samples``) with ``index.html``, whose router then
    draws the page. It sits outside the token check on purpose: the page holds no data and asks
    the API with the token itself (given once as ``/?token=``). A package built without the UI
    serves the API alone."""
    index = folder / "index.html"
    if not index.is_file():
        return
    assets = (folder / "assets").resolve()

    class Dashboard:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            path = scope.get("path", "")
            if (
                scope["type"] != "http"
                or scope.get("method") not in ("GET", "HEAD")
                or path == "/api"
                or path.startswith("/api/")
            ):
                await self.inner(scope, receive, send)
            elif path.startswith("/assets/"):
                file = (assets / path.removeprefix("/assets/")).resolve()
                if file.is_relative_to(assets) and file.is_file():  # hashed names: cache forever
                    cache = {"cache-control": "public, max-age=31536000, immutable"}
                    await FileResponse(file, headers=cache)(scope, receive, send)
                else:
                    await PlainTextResponse(f"no dashboard file {path}", 404)(scope, receive, send)
            else:
                await FileResponse(index, headers={"cache-control": "no-cache"})(
                    scope, receive, send
                )

    app.add_middleware(Dashboard)
