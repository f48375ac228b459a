"""The raw ASGI guards in front of every route: the API key, then the body size.

Pure ASGI (cheaper than ``BaseHTTPMiddleware``, and they act before FastAPI reads a byte of
the body), so an unauthenticated or oversized upload costs the server nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vlmhb_api_wrapper.errors import error_body
from vlmhb_api_wrapper.server_state import ServerState

#: The only path served without the key (liveness probes carry no secrets).
PUBLIC_PATHS = frozenset({"/health"})


class _BodyTooLarge(StarletteHTTPException):
    """An HTTPException, so FastAPI's body reader passes it on instead of making it a 400."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, f"request body is {size} bytes or more, over the limit {limit}")


class BodySizeLimit:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): 413 on a too-large body.

    Checks Content-Length up front, and counts the bytes of a chunked body as they arrive.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _refuse(self, size: int) -> JSONResponse:
        return JSONResponse(
            error_body(413, f"request body is {size} bytes or more, over the limit {self.limit}"),
            status_code=413,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(int(value))(scope, receive, send)
                return
        received = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(received, self.limit)
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(received)(scope, receive, send)


class KeyCheck:
    """Pure ASGI middleware: 401 from the headers alone, before any byte of the body is read.

    Outermost, so an unauthenticated client cannot make the server read (up to the body
    limit), parse or validate anything; it covers every route, ``/docs``, ``/redoc`` and
    ``/openapi.json`` included, except ``/health``.
    """

    def __init__(self, app: Any, server: ServerState) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in PUBLIC_PATHS
            and not self.server.key_ok(scope["headers"])
        ):
            response = JSONResponse(
                error_body(
                    401, "missing or wrong API key (send X-API-Key or Authorization: Bearer)"
                ),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer", "Connection": "close"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
