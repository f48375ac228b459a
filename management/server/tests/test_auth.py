"""Bearer-token auth: checked before any body is read, tokens stored hashed, never logged."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets
from helpers import TOKEN, ServerProcess
from vlmhb_server.auth import RedactTokens, TokenStore, hash_token, redact


@pytest.fixture
def server(tmp_path: Path, sqlite_url: str, server_factory: list) -> ServerProcess:
    started = ServerProcess(tmp_path / "work", sqlite_url).start()
    server_factory.append(started)
    return started


async def test_every_route_but_health_needs_a_token(read_only_server: ServerProcess) -> None:
    server = read_only_server
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get("/api/health")).status_code == 200
        for method, path in [
            ("GET", "/api/experiments"),
            ("GET", "/api/registries/models"),
            ("POST", "/api/experiments"),
            ("GET", "/api/docs"),
            ("GET", "/api/openapi.json"),
            ("GET", "/api/experiments/1/samples"),
            ("GET", "/api/compare?a=1&b=2"),
            ("POST", "/api/import"),
        ]:
            response = await anonymous.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = await anonymous.get("/api/experiments", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        basic = await anonymous.get("/api/experiments", headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        right = await anonymous.get(
            "/api/experiments", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert right.status_code == 200
        # ?token= is for reads (images, WebSockets, the docs page), never for writes
        assert (await anonymous.get(f"/api/experiments?token={TOKEN}")).status_code == 200
        posted = await anonymous.post(
            f"/api/experiments?token={TOKEN}", json={"experiment": "default"}
        )
        assert posted.status_code == 401
        docs = await anonymous.get(f"/api/docs?token={TOKEN}")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert (await anonymous.get(f"/api/openapi.json?token={TOKEN}")).json()["paths"]


async def test_websocket_needs_a_token(read_only_server: ServerProcess) -> None:
    server = read_only_server
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{server.ws_url}/api/experiments/1/events"):
            pass
    assert refused.value.response.status_code == 403
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with websockets.connect(
        f"{server.ws_url}/api/experiments/1/events", additional_headers=headers
    ) as ws:  # authenticated; experiment 1 does not exist, so the server closes with 4404
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 4404


async def test_rejected_before_the_body_is_read(read_only_server: ServerProcess) -> None:
    """A POST announcing 50 MB, sending none of it, is answered 401 at once."""
    server = read_only_server
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /api/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 52428800\r\n\r\n"
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    assert status.startswith(b"HTTP/1.1 401")
    writer.close()


async def test_created_tokens_are_stored_hashed_and_work_at_once(
    server: ServerProcess, sqlite_url: str
) -> None:
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "vlmhb_server",
            "token",
            "create",
            "--name",
            "ci",
            "--database-url",
            sqlite_url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.strip()
    assert token.startswith("vlmhb_") and len(token) > 40
    path = sqlite_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        stored = db.execute("SELECT name, token_hash FROM tokens").fetchall()
    assert stored == [("ci", hash_token(token))]
    assert token not in Path(path).read_bytes().decode("latin-1")
    async with httpx.AsyncClient(base_url=server.url) as client:
        ok = await client.get("/api/experiments", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        await client.get(f"/api/experiments?token={token}")
    server.stop()
    log = server.output()
    assert "/api/experiments" in log and "token=***" in log
    assert token not in log and TOKEN not in log


async def test_token_store_compares_hashes() -> None:
    store = TokenStore(None, ["alpha"])
    assert await store.check("alpha")
    assert not await store.check("alph")
    assert not await store.check(None)
    assert not await store.check("")


def test_log_filter_redacts_query_tokens() -> None:
    assert (
        redact('"GET /api/x?a=1&token=s3cr3t&b=2 HTTP/1.1"')
        == '"GET /api/x?a=1&token=***&b=2 HTTP/1.1"'
    )
    import logging

    record = logging.LogRecord(
        "uvicorn.access", 20, __file__, 1, '%s - "%s %s"', ("ip", "GET", "/x?token=abc"), None
    )
    RedactTokens().filter(record)
    assert "abc" not in record.getMessage()
