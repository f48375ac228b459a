"""End to end through the real core: the default experiment with a small limit.

Builds the model environments with uv (PyPI) and runs Tesseract and RapidOCR: about 90 s with
a warm uv cache. Skipped where ``tesseract`` is missing, or with ``VLMHB_SERVER_E2E=0``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import websockets
from helpers import TOKEN, ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("VLMHB_SERVER_E2E") == "0", reason="VLMHB_SERVER_E2E=0 turns it off"
    ),
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract (bootstrap.sh)"),
]


async def test_default_experiment_through_the_server(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(tmp_path / "work", sqlite_url, scripted=False).start()
    server_factory.append(server)
    async with server.client() as client:
        made = await client.post("/api/experiments", json={"experiment": "default", "limit": 2})
        assert made.status_code == 201, made.text
        exp_id = made.json()["id"]
        url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}"
        async with websockets.connect(url, max_size=None) as ws:
            events = [json.loads(m) async for m in ws]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        final = events[-1]
        assert final["type"] == "experiment_finished"
        data = (await client.get(f"/api/experiments/{exp_id}")).json()
        assert final["status"] == data["status"] == "done", data["error"]
        rows = (await client.get(f"/api/experiments/{exp_id}/leaderboard")).json()["rows"]
        assert rows and all(r["metrics"] for r in rows)
        page = (
            await client.get(f"/api/experiments/{exp_id}/samples", params={"limit": 500})
        ).json()
        assert page["total"] == sum(r["samples"] for r in rows)
        item = page["items"][0]
        assert item["answer"] is not None and item["scores"]
        image = await client.get(item["image_url"])
        assert image.status_code == 200 and len(image.content) > 100
        for figure in (await client.get(f"/api/experiments/{exp_id}/figures")).json():
            body = (await client.get(f"/api/experiments/{exp_id}/figures/{figure['name']}")).json()
            assert "data" in body and "layout" in body
    server.stop(signal.SIGKILL)
    again = ServerProcess(tmp_path / "work", sqlite_url, scripted=False).start()
    server_factory.append(again)
    async with again.client() as client:
        assert (await client.get(f"/api/experiments/{exp_id}")).json()["status"] == "done"
        assert (await client.get(f"/api/experiments/{exp_id}/leaderboard")).json()["rows"] == rows
