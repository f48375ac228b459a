"""``--workers N``: every process answers the API and the WebSocket, exactly one supervises the
queue, and when it dies another takes over (a file lock the kernel drops on death)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import websockets
from helpers import TOKEN, ServerProcess, wait_status
from vlmhb_server import store
from vlmhb_server.supervisor_lock import SupervisorLock


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _api_workers(server: ServerProcess) -> set[int]:
    """The server's API processes (uvicorn's spawned children, not experiment workers)."""
    assert server.process is not None
    return {
        pid
        for pid in _children(server.process.pid)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


def _leader(server: ServerProcess, timeout_s: float = 30) -> int:
    lock = SupervisorLock(server.workdir / "server" / "supervisor.lock")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid = lock.holder()
        if pid in _api_workers(server):
            return pid
        time.sleep(0.2)
    raise AssertionError(f"no live API worker holds {lock.path} (it names {lock.holder()})")


async def _follow(server: ServerProcess, exp_id: int) -> list[dict]:
    url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}"
    async with websockets.connect(url, max_size=None) as ws:
        return [json.loads(m) async for m in ws]


def test_lock_is_exclusive_and_freed_when_its_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from vlmhb_server.supervisor_lock import SupervisorLock; "
            f"assert SupervisorLock({str(path)!r}).try_acquire(); print('held', flush=True); "
            "time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        mine = SupervisorLock(path)
        assert not mine.try_acquire() and mine.holder() == holder.pid
        holder.kill()  # SIGKILL: no cleanup runs, the kernel drops the lock
        holder.wait()
        assert mine.try_acquire() and mine.holder() == os.getpid()
        assert not SupervisorLock(path).try_acquire()  # exclusive within a process too
        mine.release()
        assert SupervisorLock(path).try_acquire()
    finally:
        holder.kill()
        holder.wait()


async def test_workers_share_events_and_hand_over_the_queue(
    tmp_path: Path, database_url: str, server_factory: list
) -> None:
    env = {"SCRIPTED_DELAY_S": "0.005", "SCRIPTED_PROGRESS": "20"}
    server = ServerProcess(tmp_path / "w", database_url, env=env, workers=2)
    server_factory.append(server.start())
    assert len(_api_workers(server)) == 2
    leader = _leader(server)
    async with server.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        # 16 clients spread over both processes by the kernel; each must see every event once
        streams = await asyncio.wait_for(
            asyncio.gather(*(_follow(server, exp_id) for _ in range(16))), 120
        )
        first = streams[0]
        assert [e["seq"] for e in first] == list(range(1, len(first) + 1))
        assert first[-1]["type"] == store.FINISHED and first[-1]["status"] == "done"
        assert all(stream == first for stream in streams)

    os.kill(leader, signal.SIGKILL)  # the supervising process dies; the server goes on
    # a new client: a kept-alive connection to the killed process is gone with it
    async with server.client() as client:
        second = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        done = await wait_status(client, second, {"done", "failed"}, timeout_s=120)
        assert done["status"] == "done" and done["attempts"] == 1
        events = await _follow(server, second)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert [e for e in events if e["type"] == store.FINISHED] == [events[-1]]
    new_leader = _leader(server)
    assert new_leader != leader and new_leader in _api_workers(server)


async def test_leader_killed_mid_run_the_next_one_adopts_the_run(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    env = {"SCRIPTED_DELAY_S": "0.03", "SCRIPTED_PROGRESS": "10"}
    server = ServerProcess(tmp_path / "w", sqlite_url, env=env, workers=2)
    server_factory.append(server.start())
    leader = _leader(server)
    async with server.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        await wait_status(client, exp_id, {"running"})
    # mid-run: the worker already sends events (it started before the leader dies)
    url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}"
    async with websockets.connect(url) as ws:
        for _ in range(5):
            await ws.recv()
    os.kill(leader, signal.SIGKILL)
    async with server.client() as client:
        events = await asyncio.wait_for(_follow(server, exp_id), 180)
        data = (await client.get(f"/api/experiments/{exp_id}")).json()
    # the experiment's worker was not the leader's child in the process-group sense: it ran on,
    # the new leader adopted it and finalized it once
    assert data["status"] == "done" and data["attempts"] == 1, data
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e for e in events if e["type"] == store.FINISHED] == [events[-1]]
    assert _leader(server) != leader


def test_api_workers_die_with_the_server(tmp_path: Path, sqlite_url: str) -> None:
    server = ServerProcess(tmp_path / "w", sqlite_url, workers=2).start()
    workers = _api_workers(server)
    assert len(workers) == 2
    server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.1)
    left = []
    for pid in workers:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            left.append(pid)
    assert not left, f"API workers outlived a kill -9 of the server: {left}"
