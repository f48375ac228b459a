"""WebSocket events: replay then live, many clients, a slow client never slows the run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import websockets
from helpers import TOKEN, ServerProcess, wait_status
from vlmhb_server import store


async def _collect(server: ServerProcess, exp_id: int, after: int = 0) -> list[dict]:
    url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}&after={after}"
    async with websockets.connect(url, max_size=None) as ws:
        return [json.loads(m) async for m in ws]


async def test_many_clients_get_every_event_once(
    tmp_path: Path, database_url: str, server_factory: list
) -> None:
    server = ServerProcess(
        tmp_path / "w", database_url, env={"SCRIPTED_DELAY_S": "0.005", "SCRIPTED_PROGRESS": "30"}
    ).start()
    server_factory.append(server)
    async with server.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        early = [asyncio.create_task(_collect(server, exp_id)) for _ in range(10)]
        await asyncio.sleep(0.5)  # these join mid-run: replay first, then live
        late = [asyncio.create_task(_collect(server, exp_id)) for _ in range(10)]
        streams = await asyncio.wait_for(asyncio.gather(*early, *late), 120)
        data = await wait_status(client, exp_id, {"done"})
    expected = streams[0]
    assert [e["seq"] for e in expected] == list(range(1, len(expected) + 1))
    assert expected[-1]["type"] == store.FINISHED and expected[-1]["status"] == "done"
    stages = data["stages"]
    infers = [s for s in stages if s["kind"] == "infer"]
    assert len(expected) == 3 * len(stages) + 30 * len(infers) + 1  # planned/started/finished
    for stream in streams[1:]:
        assert stream == expected
    assert data["progress"]["samples_done"] == data["progress"]["samples_total"] == 30 * len(infers)
    # the same events are in the worker's file, in order
    lines = (tmp_path / "w" / "server" / "experiments" / str(exp_id) / "events.jsonl").read_text()
    filed = [json.loads(line) for line in lines.splitlines()]
    assert [e["type"] for e in filed] == [e["type"] for e in expected[:-1]]


async def test_slow_client_is_dropped_not_waited_for(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(
        tmp_path / "w",
        sqlite_url,
        env={"SCRIPTED_PROGRESS": "60", "SCRIPTED_PAD": "65536"},
        extra=["--ws-queue-size", "40"],
    ).start()
    server_factory.append(server)
    async with server.client() as client:
        made = await client.post("/api/experiments", json={"experiment": "default"})
        assert made.status_code == 201, made.text
        exp_id = made.json()["id"]
        url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}"
        slow = await websockets.connect(url, max_size=None, max_queue=1)
        fast = asyncio.create_task(_collect(server, exp_id))
        # the run ends while the slow client has read nothing
        done = await wait_status(client, exp_id, {"done", "failed"}, timeout_s=180)
        assert done["status"] == "done"
        everything = await asyncio.wait_for(fast, 120)
        assert everything[-1]["type"] == store.FINISHED
        got: list[dict] = []
        try:
            async for message in slow:
                got.append(json.loads(message))
        except websockets.ConnectionClosed:
            pass
        assert slow.close_code == 1013, (slow.close_code, len(got))
        assert f"after={got[-1]['seq'] if got else 0}" in slow.close_reason
        assert len(got) < len(everything)
        rest = await _collect(server, exp_id, after=got[-1]["seq"] if got else 0)
        assert [e["seq"] for e in got + rest] == [e["seq"] for e in everything]
