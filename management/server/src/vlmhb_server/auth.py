"""Bearer-token auth as pure ASGI middleware: it answers before the app reads any body.

Tokens are random strings; the database keeps only their SHA-256 with the token's owner and
scope. Every request looks its token up in the database (one indexed read), so a revoked token
stops working at once in every server process; the environment token
(``VLMHB_SERVER_TOKEN``, owner ``env``, scope ``admin``) is compared with
``hmac.compare_digest``. Scopes are ranked: ``read`` (dashboard, results) < ``run`` (submit,
cancel, resume) < ``admin`` (tokens, imports); a token without the scope a route needs gets a
403 naming it. The token never reaches a log: the access-log filter below masks the value of
any query parameter whose decoded name is ``token`` (``to%6ben=`` too).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from sqlalchemy import delete, select

from .db import Database, Token
from .guards import send_error

ASGIApp = Callable[
    [dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]

OPEN_PATHS = frozenset({"/api/health"})
#: ranked: a scope includes every scope before it
SCOPES = ("read", "run", "admin")
#: the owner recorded for requests made with the environment token
ENV_OWNER = "env"
#: routes that need ``admin`` (any method)
ADMIN_PREFIXES = ("/api/tokens", "/api/import")


@dataclass(frozen=True)
class Identity:
    """Who sent a request: the token's owner and scope (``request.state.identity``)."""

    owner: str
    scope: str

    def allows(self, needed: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


def required_scope(kind: str, method: str | None, path: str) -> str:
    """The scope a request needs: ``admin`` for tokens and imports, ``run`` for any other
    write (submit, cancel, resume), ``read`` for the rest (GETs, the WebSocket)."""
    if path == "/api/tokens" or path.startswith(ADMIN_PREFIXES):
        return "admin"
    if kind == "http" and method not in ("GET", "HEAD", "OPTIONS"):
        return "run"
    return "read"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "vlmhb_" + secrets.token_urlsafe(32)


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"scope: expected one of {', '.join(SCOPES)}, got {scope!r}")
    return scope


def check_owner(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(not c.isprintable() for c in name):
        raise ValueError(
            f"name: expected the token owner's name (1-200 printable characters), got {name!r}"
        )
    return name


async def create_token(database: Database, name: str, scope: str = "read") -> str:
    """A new token for owner ``name``, stored hashed; this return is the only time the token
    itself is seen."""
    name, scope = check_owner(name), check_scope(scope)
    token = new_token()
    async with database.session() as session:
        session.add(Token(name=name, token_hash=hash_token(token), scope=scope))
        await session.commit()
    return token


async def list_tokens(database: Database) -> list[dict[str, Any]]:
    """Every stored token's id, owner, scope and creation time (never the hash)."""
    async with database.session() as session:
        rows = await session.execute(
            select(Token.id, Token.name, Token.scope, Token.created_at).order_by(Token.id)
        )
        return [{"id": i, "name": n, "scope": s, "created_at": c} for i, n, s, c in rows.all()]


async def revoke_tokens(database: Database, which: str | int) -> int:
    """Delete the token with id ``which`` (an int, or digits), else every token owned by the
    name ``which``; returns how many. The next request with a deleted token is refused."""
    condition = (
        Token.id == int(which)
        if isinstance(which, int) or str(which).isdigit()
        else Token.name == which
    )
    async with database.session() as session:
        result = await session.execute(delete(Token).where(condition))
        await session.commit()
        return int(result.rowcount or 0)


class TokenStore:
    """Resolves a presented token to its ``Identity``: the configured tokens (compared in
    constant time) first, then one indexed read of the database's tokens by hash."""

    def __init__(
        self, database: Database | None, tokens: Iterable[str] = (), owner: str = ENV_OWNER
    ) -> None:
        self.database = database
        self.static = [hash_token(t) for t in tokens if t]
        self.static_identity = Identity(owner, "admin")

    async def identify(self, token: str | None) -> Identity | None:
        if not token:
            return None
        digest = hash_token(token)
        found = False
        for known in self.static:  # no early exit: same work for any token
            found |= hmac.compare_digest(known, digest)
        if found:
            return self.static_identity
        if self.database is None:
            return None
        async with self.database.session() as session:
            row = (
                await session.execute(
                    select(Token.name, Token.scope).where(Token.token_hash == digest)
                )
            ).first()
        return None if row is None else Identity(row[0], row[1])

    async def check(self, token: str | None) -> bool:
        return await self.identify(token) is not None


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
    """Rejects requests without a valid token (401) or without the scope the route needs
    (403) before the wrapped app sees them; passes the ``Identity`` on in ``scope["state"]``."""

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
        identity = await self.store.identify(_token_of(scope))
        if identity is None:
            if scope["type"] == "websocket":
                # closing before accept makes the server answer the handshake with 403
                await send({"type": "websocket.close", "code": 1008, "reason": "invalid token"})
                return
            await send_error(
                send,
                401,
                "missing or invalid token: send Authorization: Bearer <token>",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        needed = required_scope(scope["type"], scope.get("method"), path)
        if not identity.allows(needed):
            if scope["type"] == "websocket":
                await send(
                    {"type": "websocket.close", "code": 1008, "reason": f"needs scope {needed}"}
                )
                return
            await send_error(
                send,
                403,
                f"missing scope {needed!r}: {scope.get('method')} {path} needs a token with "
                f"scope {needed!r}; this token (owner {identity.owner!r}) has scope "
                f"{identity.scope!r}",
            )
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)


#: a query parameter in logged text: its separator, name and value
_PARAM_IN_TEXT = re.compile(r"([?&;])([^=&;\s\"'?]+)=([^&;\s\"']*)")


def _is_token_name(raw: str) -> bool:
    return unquote_plus(unquote_plus(raw)).strip().lower() == "token"


def redact(text: str) -> str:
    """``text`` with the value of every query parameter named ``token`` masked, however the
    name is percent-encoded (``to%6ben=``) or cased: the server may accept it either way."""

    def mask(match: re.Match[str]) -> str:
        sep, name, value = match.groups()
        return f"{sep}{name}=***" if _is_token_name(name) and value else match.group(0)

    return _PARAM_IN_TEXT.sub(mask, text)


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
