"""Request guards as pure ASGI middleware: a body-size limit enforced while the body is read,
NUL characters refused in paths and query parameters, and security headers on every response.

They run before FastAPI parses anything, so one rule covers every route and every body kind
(JSON, multipart uploads, a chunked body without ``Content-Length``) instead of each route
remembering to check.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

#: the dashboard's pages: its own scripts only, inline styles (React and Plotly set them),
#: images from the API or data URLs, requests and WebSockets to this server only
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: API answers are data: nothing in them may run, and no page may frame them
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # ?token= URLs must not leak to other sites
]


async def send_error(
    send: Any, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """A JSON ``{"detail": ...}`` answer, as FastAPI's own errors look."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses a body over ``max_bytes`` with 413: at once when ``Content-Length`` says so,
    otherwise as soon as that many bytes have arrived (the app then sees a disconnect and
    nothing it would answer is sent)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return (
            f"body: larger than the server's limit of {self.max_bytes} bytes "
            "(vlmhb-server --max-body-mb)"
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_error(send, 400, "Content-Length: expected a number")
                    return
                if declared > self.max_bytes:
                    await send_error(send, 413, self._message())
                    return
        received = 0
        refused = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await send_error(send, 413, self._message())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:  # after a 413 the app's complaint about the cut body is moot
                raise


def _nul_in(scope: dict[str, Any]) -> str | None:
    """The name of the first path or query parameter holding a NUL character, if any."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in query:
        for key, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return key.replace("\x00", "\\0") or "query"
    return None


class RejectNul:
    """A NUL character in a path or query parameter is a 422 naming it: no database stores
    one in text (PostgreSQL refuses it), so it can only be a mistake or a probe."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            where = _nul_in(scope)
            if where is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": f"{where}: NUL"})
                    return
                await send_error(send, 422, f"{where}: contains a NUL character")
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy`` on every answer,
    and a Content-Security-Policy (``frame-ancestors 'none'`` included): the dashboard's for
    pages outside ``/api``, a deny-all one for the API, unless the route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        api = path == "/api" or path.startswith("/api/")
        csp = (API_CSP if api else DASHBOARD_CSP).encode()

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in _HEADERS if h[0] not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
