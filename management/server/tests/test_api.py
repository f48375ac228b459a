"""The API contract against a real server process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets
from helpers import ACTIVE, TOKEN, ServerProcess, make_workdir, wait_status


async def follow(server: ServerProcess, exp_id: int, after: int = 0) -> list[dict]:
    url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}&after={after}"
    async with websockets.connect(url) as ws:
        return [json.loads(message) async for message in ws]


@pytest.fixture
def server(tmp_path: Path, database_url: str, server_factory: list) -> ServerProcess:
    started = ServerProcess(tmp_path / "work", database_url).start()
    server_factory.append(started)
    return started


async def test_experiment_lifecycle(server: ServerProcess) -> None:
    async with server.client() as client:
        created = await client.post("/api/experiments", json={"experiment": "default", "limit": 2})
        assert created.status_code == 201, created.text
        exp_id = created.json()["id"]
        events = await follow(server, exp_id)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1] == {**events[-1], "type": "experiment_finished", "status": "done"}
        types = {e["type"] for e in events}
        assert {"stage_planned", "stage_started", "stage_progress", "stage_finished"} <= types

        data = (await client.get(f"/api/experiments/{exp_id}")).json()
        assert data["status"] == "done" and data["name"] == "default"
        assert data["spec"] == {"experiment": "default", "limit": 2}
        assert data["progress"]["fraction"] == 1.0 and data["finished_at"]
        assert all(stage["state"] == "done" for stage in data["stages"])
        # a second follower after the end gets the same replay
        assert await follow(server, exp_id) == events

        listing = (await client.get("/api/experiments", params={"status": "done"})).json()
        assert listing["total"] == 1 and listing["items"][0]["best"]["vqa"]["model"]

        rows = (await client.get(f"/api/experiments/{exp_id}/leaderboard")).json()["rows"]
        assert len(rows) == 4
        vqa = next(r for r in rows if r["task"] == "vqa" and r["model"] == "tesseract")
        assert set(vqa["metrics"]) == {"anls", "exact_match"} and vqa["samples"] == 12

        page = (await client.get(f"/api/experiments/{exp_id}/samples", params={"limit": 5})).json()
        assert page["total"] == 48 and len(page["items"]) == 5
        item = page["items"][0]
        assert {
            "run",
            "sample_id",
            "question",
            "reference",
            "answer",
            "scores",
            "latency_s",
        } <= set(item)
        image = await client.get(item["image_url"])
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")

        run = vqa["run"]
        only = (
            await client.get(
                f"/api/experiments/{exp_id}/samples", params={"run": run, "limit": 100}
            )
        ).json()
        assert only["total"] == 12 and {i["run"] for i in only["items"]} == {run}
        by_score = (
            await client.get(
                f"/api/experiments/{exp_id}/samples",
                params={"run": run, "sort": "anls", "order": "desc", "limit": 100},
            )
        ).json()["items"]
        scores = [i["scores"]["anls"] for i in by_score]
        assert scores == sorted(scores, reverse=True)
        by_latency = (
            await client.get(
                f"/api/experiments/{exp_id}/samples", params={"sort": "latency_s", "limit": 100}
            )
        ).json()["items"]
        assert [i["latency_s"] for i in by_latency] == sorted(i["latency_s"] for i in by_latency)
        docs = (
            await client.get(f"/api/experiments/{exp_id}/samples", params={"doc_class": "invoice"})
        ).json()
        assert docs["total"] == 16 and {i["doc_class"] for i in docs["items"]} == {"invoice"}
        meta = (
            await client.get(
                f"/api/experiments/{exp_id}/samples", params={"lang": "en", "run": run}
            )
        ).json()
        assert meta["total"] == 4
        found = (
            await client.get(f"/api/experiments/{exp_id}/samples", params={"q": "FIELD 7?"})
        ).json()
        assert found["total"] == 4 and all("7" in i["question"] for i in found["items"])

        names = [f["name"] for f in (await client.get(f"/api/experiments/{exp_id}/figures")).json()]
        for expected in (
            "leaderboard-vqa",
            "quality-vs-latency",
            "latency-distribution",
            "by-doc-type",
            "field-scores-passport-fields",
        ):
            assert expected in names
        for name in names:
            fig = (await client.get(f"/api/experiments/{exp_id}/figures/{name}")).json()
            assert fig["data"] and "layout" in fig, name
        heat = (
            await client.get(f"/api/experiments/{exp_id}/figures/field-scores-passport-fields")
        ).json()
        assert heat["data"][0]["type"] == "heatmap" and heat["data"][0]["x"] == [
            "number",
            "surname",
        ]
        missing = await client.get(f"/api/experiments/{exp_id}/figures/nope")
        assert missing.status_code == 404 and "leaderboard-vqa" in missing.json()["detail"]


async def test_bad_input_names_the_problem(server: ServerProcess) -> None:
    async with server.client() as client:
        cases = [
            ({"experiment": "nope"}, "no experiments entry named 'nope'"),
            ({"experiment": "default", "limit": 0}, "limit: expected a positive integer"),
            ({"experiment": "default", "limit": "x"}, "limit: expected a positive integer"),
            ({}, "expected exactly one of"),
            ({"experiment": "default", "colour": 1}, "unknown field(s) colour"),
            ({"yaml": "runs: [\n"}, "yaml:"),
            (
                {
                    "yaml": "matrix:\n  models: [no-such-model]\n  datasets: [synthetic-docs-vqa]\n"
                    "  prompts: [vqa-question]\n"
                },
                "no-such-model",
            ),
            ({"experiment": "default", "overrides": {"parallelism": 0}}, "overrides: parallelism"),
        ]
        for body, expected in cases:
            response = await client.post("/api/experiments", json=body)
            assert 400 <= response.status_code < 500, (body, response.text)
            assert expected in response.text, (body, response.text)
        bad_csv = await client.post(
            "/api/experiments",
            files={"user_config": ("user_config.csv", b"a;b\n1;2\n", "text/csv")},
        )
        assert bad_csv.status_code == 422 and "missing columns" in bad_csv.text
        assert (await client.get("/api/experiments/999")).status_code == 404
        assert (await client.get("/api/registries/colours")).status_code == 404
        models = (await client.get("/api/registries/models")).json()["entries"]
        assert "tesseract" in {m["name"] for m in models}


async def test_yaml_and_user_config_submissions(server: ServerProcess) -> None:
    yaml_text = (ACTIVE["registries"] / "experiments" / "default.yaml").read_text(encoding="utf-8")
    async with server.client() as client:
        made = await client.post(
            "/api/experiments", json={"yaml": "name: my-exp\n" + yaml_text, "limit": 1}
        )
        assert made.status_code == 201, made.text
        assert made.json()["name"] == "my-exp"
        row = "synthetic-docs-vqa;vqa;tesseract;vqa-question;anls;general\n"
        header = "dataset;task;model_name;prompt_collection;metrics;aggregators\n"
        upload = await client.post(
            "/api/experiments",
            files={"user_config": ("user_config.csv", (header + row).encode(), "text/csv")},
            data={"limit": "1"},
        )
        assert upload.status_code in (201, 422), upload.text
        if upload.status_code == 422:  # the v0.1 columns the core accepts are its business
            assert "user_config.csv" in upload.text
        await wait_status(client, made.json()["id"], {"done"})


async def test_cancel_and_queue(tmp_path: Path, sqlite_url: str, server_factory: list) -> None:
    server = ServerProcess(tmp_path / "w", sqlite_url, env={"SCRIPTED_DELAY_S": "0.05"}).start()
    server_factory.append(server)
    async with server.client() as client:
        first = (await client.post("/api/experiments", json={"experiment": "default"})).json()["id"]
        second = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        await wait_status(client, first, {"running"})
        assert (await client.get(f"/api/experiments/{second}")).json()["status"] == "queued"
        assert (await client.post(f"/api/experiments/{second}/cancel")).json()[
            "status"
        ] == "cancelled"
        assert (await client.post(f"/api/experiments/{first}/cancel")).json()[
            "status"
        ] == "cancelling"
        done = await wait_status(client, first, {"cancelled", "done", "failed"})
        assert done["status"] == "cancelled", done
        events = await follow(server, first)
        assert events[-1]["type"] == "experiment_finished" and events[-1]["status"] == "cancelled"
        again = await client.post(f"/api/experiments/{first}/cancel")
        assert again.status_code == 409 and "cancelled" in again.text
        resumed = await client.post(f"/api/experiments/{first}/resume")
        assert resumed.status_code == 200
        assert (await wait_status(client, first, {"done", "failed"}))["status"] == "done"


async def test_failed_run_reports_error(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(tmp_path / "w", sqlite_url, env={"SCRIPTED_FAIL": "1"}).start()
    server_factory.append(server)
    async with server.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        events = await follow(server, exp_id)
        assert events[-1]["status"] == "failed" and "scripted failure" in events[-1]["error"]
        data = (await client.get(f"/api/experiments/{exp_id}")).json()
        assert data["status"] == "failed" and "scripted failure" in data["error"]


async def test_import_compare_and_image_paths(server: ServerProcess, tmp_path: Path) -> None:
    # inside the server's work dir: the only folder it imports from without --import-root
    cli_a, cli_b = server.workdir / "cli-a", server.workdir / "cli-b"
    make_workdir(cli_a, "bench", seed=1, samples=30)
    make_workdir(cli_b, "bench", seed=2, samples=30)
    async with server.client() as client:
        a = (await client.post("/api/import", json={"workdir": str(cli_a)})).json()["imported"][0]
        b = (await client.post("/api/import", json={"workdir": str(cli_b)})).json()["imported"][0]
        assert a["runs"] == 4 and a["samples"] == 120
        again = (await client.post("/api/import", json={"workdir": str(cli_a)})).json()["imported"][
            0
        ]
        assert again["id"] == a["id"]  # re-import replaces, never duplicates
        data = (await client.get(f"/api/experiments/{a['id']}")).json()
        assert data["status"] == "done" and data["source"] == "import"
        events = await follow(server, a["id"])
        assert [e["type"] for e in events] == [
            "stage_started",
            "stage_finished",
            "experiment_finished",
        ]

        compared = (await client.get("/api/compare", params={"a": a["id"], "b": b["id"]})).json()
        assert len(compared["runs"]) == 4
        first = compared["runs"][0]
        assert first["samples_shared"] == 30
        metric = first["metrics"][0]
        assert {"metric", "a", "b", "delta"} <= set(metric)
        assert metric["delta"] == pytest.approx(metric["b"] - metric["a"])
        one = (
            await client.get(
                "/api/compare",
                params={
                    "a": f"{a['id']}:tesseract/synthetic-docs-vqa/vqa-question",
                    "b": f"{a['id']}:rapidocr/synthetic-docs-vqa/vqa-question",
                },
            )
        ).json()
        assert len(one["runs"]) == 1 and one["runs"][0]["samples_changed"] > 0
        bad = await client.get("/api/compare", params={"a": "x", "b": b["id"]})
        assert bad.status_code == 422 and "a: expected an experiment id" in bad.text
        nowhere = await client.post("/api/import", json={"workdir": str(server.workdir / "none")})
        assert nowhere.status_code == 404 and "no reports" in nowhere.text

        items = (
            await client.get(f"/api/experiments/{a['id']}/samples", params={"limit": 1})
        ).json()["items"]
        assert (await client.get(items[0]["image_url"])).status_code == 200
        # a sample whose recorded image lies outside the data folders is refused
        samples = cli_a / "datasets" / "sync000000000000" / "samples.jsonl"
        lines = samples.read_text().splitlines()
        first_sample = json.loads(lines[0])
        first_sample["images"] = ["/etc/passwd"]
        samples.write_text("\n".join([json.dumps(first_sample), *lines[1:]]) + "\n")
        await client.post("/api/import", json={"workdir": str(cli_a)})
        outside = (
            await client.get(
                f"/api/experiments/{a['id']}/samples", params={"q": first_sample["id"], "limit": 1}
            )
        ).json()["items"][0]
        refused = await client.get(outside["image_url"])
        assert refused.status_code == 403 and "not an image file" in refused.text


async def test_many_experiments_paginate(server: ServerProcess) -> None:
    async with server.client() as client:
        ids = []
        for _ in range(3):
            ids.append(
                (
                    await client.post(
                        "/api/experiments", json={"experiment": "default", "limit": 1}
                    )
                ).json()["id"]
            )
        page = (await client.get("/api/experiments", params={"limit": 2, "offset": 1})).json()
        assert page["total"] == 3 and [i["id"] for i in page["items"]] == [ids[1], ids[0]]
        named = (await client.get("/api/experiments", params={"name": "nothing"})).json()
        assert named["total"] == 0
        for exp_id in ids:
            await wait_status(client, exp_id, {"done"})
        await asyncio.sleep(0)


async def test_cli_import_then_browse(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    import subprocess
    import sys

    make_workdir(tmp_path / "cli", "bench")
    cli = [
        sys.executable,
        "-m",
        "vlmhb_server",
        "import",
        str(tmp_path / "cli"),
        "--database-url",
        sqlite_url,
    ]
    for _ in range(2):  # importing again replaces, never duplicates
        done = subprocess.run(cli, capture_output=True, text=True, check=True)
        assert "imported bench" in done.stdout and "48 samples" in done.stdout
    missing = subprocess.run(
        [*cli[:4], str(tmp_path / "none"), *cli[5:]], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "no reports/<experiment>/runs.json" in missing.stderr
    server = ServerProcess(tmp_path / "w", sqlite_url).start()
    server_factory.append(server)
    async with server.client() as client:
        listing = (await client.get("/api/experiments")).json()
        assert listing["total"] == 1 and listing["items"][0]["source"] == "import"
        exp_id = listing["items"][0]["id"]
        assert (await client.get(f"/api/experiments/{exp_id}/samples")).json()["total"] == 48
