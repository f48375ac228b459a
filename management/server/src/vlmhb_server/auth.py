"""Bearer-token auth as pure ASGI middleware: it answers before the app reads any body.

Tokens are random strings; the database keeps only their SHA-256, and a presented token is
hashed and compared with ``hmac.compare_digest`` against every known hash, so neither the
comparison's time nor a leaked database reveals a token. The token never reaches a log: the
access-log filter below rewrites ``token=...`` in logged URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select

from .db import Database, Token

ASGIApp = Callable[
    [dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]

OPEN_PATHS = frozenset({"/api/health"})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "vlmhb_" + secrets.token_urlsafe(32)


async def create_token(database: Database, name: str) -> str:
    """A new token, stored hashed; the only time the token itself is seen is this return."""
    token = new_token()
    async with database.session() as session:
        session.add(Token(name=name, token_hash=hash_token(token)))
        await session.commit()
    return token


class TokenStore:
    """Known token hashes: the configured ones and the database's (re-read on a miss, at most
    once a second, so ``vlmhb-server token create`` works while the server runs)."""

    def __init__(self, database: Database | None, tokens: Iterable[str] = ()) -> None:
        self.database = database
        self.static = [hash_token(t) for t in tokens if t]
        self.stored: list[str] = []
        self._loaded_at = 0.0

    async def refresh(self) -> None:
        if self.database is None:
            return
        async with self.database.session() as session:
            self.stored = list((await session.execute(select(Token.token_hash))).scalars())
        self._loaded_at = time.monotonic()

    def _match(self, digest: str) -> bool:
        found = False
        for known in (*self.static, *self.stored):  # no early exit: same work for any token
            found |= hmac.compare_digest(known, digest)
        return found

    async def check(self, token: str | None) -> bool:
        if not token:
            return False
        digest = hash_token(token)
        if self._match(digest):
            return True
        if time.monotonic() - self._loaded_at > 1.0:
            await self.refresh()
            return self._match(digest)
        return False

    @property
    def empty(self) -> bool:
        return not self.static and not self.stored


def _token_of(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    if scope["type"] == "websocket" or scope.get("method") in ("GET", "HEAD"):
        # WebSockets and <img src> cannot set headers; only reads accept ?token=
        query = scope.get("query_string", b"").decode("latin-1")
        for key, value in parse_qsl(query):
            if key == "token" and value:
                return value
    return None


class TokenAuth:
    """Rejects requests without a valid token before the wrapped app sees them."""

    def __init__(
        self,
        app: ASGIApp,
        store: TokenStore,
        open_paths: Iterable[str] = OPEN_PATHS,
        public_prefixes: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.store = store
        self.open_paths = frozenset(open_paths)
        self.public_prefixes = tuple(public_prefixes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in self.open_paths or (
            self.public_prefixes and path.startswith(self.public_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        if await self.store.check(_token_of(scope)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # closing before accept makes the server answer the handshake with 403
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid token"})
            return
        body = b'{"detail":"missing or invalid token: send Authorization: Bearer <token>"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Rewrites ``token=...`` in a log record (uvicorn's access log prints query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
