"""kill -9 of the server: workers go on and are adopted; dead ones are resumed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from pathlib import Path

import websockets
from helpers import TOKEN, ServerProcess, wait_status


async def _take(server: ServerProcess, exp_id: int, count: int) -> list[dict]:
    url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}"
    got = []
    async with websockets.connect(url) as ws:
        async for message in ws:
            got.append(json.loads(message))
            if len(got) >= count:
                break
    return got


async def _rest(server: ServerProcess, exp_id: int, after: int) -> list[dict]:
    url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}&after={after}"
    async with websockets.connect(url) as ws:
        return [json.loads(m) async for m in ws]


def _worker_pid(db_path: Path, exp_id: int) -> int | None:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT worker_pid FROM experiments WHERE id = ?", (exp_id,)).fetchone()[
            0
        ]


async def test_worker_survives_server_kill_and_is_adopted(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    env = {"SCRIPTED_DELAY_S": "0.03", "SCRIPTED_PROGRESS": "10"}
    first = ServerProcess(tmp_path / "w", sqlite_url, env=env).start()
    server_factory.append(first)
    async with first.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        seen = await _take(first, exp_id, 30)
    first.stop(signal.SIGKILL)
    second = ServerProcess(tmp_path / "w", sqlite_url, env=env).start()
    server_factory.append(second)
    rest = await asyncio.wait_for(_rest(second, exp_id, seen[-1]["seq"]), 120)
    events = seen + rest
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "experiment_finished" and events[-1]["status"] == "done"
    async with second.client() as client:
        data = (await client.get(f"/api/experiments/{exp_id}")).json()
        assert data["status"] == "done" and data["attempts"] == 1
        assert len((await client.get(f"/api/experiments/{exp_id}/leaderboard")).json()["rows"]) == 4


async def test_interrupted_run_is_resumed_after_restart(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    env = {"SCRIPTED_DELAY_S": "0.03", "SCRIPTED_PROGRESS": "10"}
    first = ServerProcess(tmp_path / "w", sqlite_url, env=env).start()
    server_factory.append(first)
    async with first.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        await _take(first, exp_id, 10)
    pid = _worker_pid(Path(sqlite_url.split("///", 1)[1]), exp_id)
    assert pid
    first.stop(signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)  # the worker dies too: nothing left to adopt
    second = ServerProcess(tmp_path / "w", sqlite_url, env=env).start()
    server_factory.append(second)
    async with second.client() as client:
        data = await wait_status(client, exp_id, {"done", "failed"})
        assert data["status"] == "done" and data["attempts"] == 2
    events = await _rest(second, exp_id, 0)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert any(e.get("line") == "server restarted: run interrupted" for e in events)
    assert [e for e in events if e["type"] == "experiment_finished"] == [events[-1]]


async def test_graceful_stop_interrupts_and_no_resume_leaves_it(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    env = {"SCRIPTED_DELAY_S": "0.03", "SCRIPTED_PROGRESS": "10"}
    first = ServerProcess(tmp_path / "w", sqlite_url, env=env).start()
    server_factory.append(first)
    async with first.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        await _take(first, exp_id, 10)
    first.stop(signal.SIGTERM)  # asks the worker to stop; it marks the run interrupted
    second = ServerProcess(tmp_path / "w", sqlite_url, env=env, extra=["--no-resume"]).start()
    server_factory.append(second)
    async with second.client() as client:
        data = (await client.get(f"/api/experiments/{exp_id}")).json()
        assert data["status"] == "interrupted", data
        assert (await client.post(f"/api/experiments/{exp_id}/resume")).status_code == 200
        assert (await wait_status(client, exp_id, {"done", "failed"}))["status"] == "done"
