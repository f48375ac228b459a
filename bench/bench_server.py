# Run:  uv run --no-project --with ./dependency-injector --with ./core --with './management/server[test]' python bench/bench_server.py [--samples 100000] [--clients 50] [--ws-clients 20]
"""vlmhb-server under load, against its goals, on this machine (a real server process, SQLite).

1. Samples page latency: ``--samples`` samples (default 100k) in the database, ``--clients``
   concurrent clients (default 50) asking for samples pages: plain first page, a deep page, sorted
   by a score, filtered by run, a text search. p50/p99 per query; goal p99 < 100 ms for a
   samples page. The reference is ``GET /api/health`` (no database) under the same load, measured
   in the same run: the ratio is what the samples query costs above the framework's floor.
2. WebSocket fan-out: ``--ws-clients`` clients (default 20) follow an experiment while it
   streams (half join mid-run: replay, then live). Every client must get every event exactly
   once, in order (goal: none lost, none duplicated); printed with the event count, the rate and
   the delivery lag p50/p99 (event time to receipt). The run is the default experiment's real
   plan with its execution scripted (``management/server/tests/scripted_worker.py``), so the
   bench measures the server, not OCR models.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "management" / "server" / "tests"
sys.path.insert(0, str(TESTS))

from helpers import TOKEN, ServerProcess  # noqa: E402
from vlmhb_server import store  # noqa: E402
from vlmhb_server.db import Database, Experiment, RunRow  # noqa: E402
from vlmhb_server.migrate import migrate  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def fill(url: str, samples: int) -> tuple[int, list[str]]:
    """One experiment with 8 runs and ``samples`` samples spread over them."""
    database = Database(url)
    await migrate(database)
    rng = random.Random(0)
    runs = [f"model{m}__dataset{d}__prompt" for m in range(4) for d in range(2)]
    async with database.session() as session:
        exp = Experiment(
            name="bench",
            status="done",
            spec={},
            source="import",
            stages={},
            attempts=1,
            cancel_requested=0,
            created_at=time.time(),
            finished_at=time.time(),
        )
        session.add(exp)
        await session.flush()
        for run in runs:
            model, dataset, _ = run.split("__")
            session.add(
                RunRow(
                    experiment_id=exp.id,
                    run=run,
                    model=model,
                    dataset=dataset,
                    prompt="p",
                    task="vqa",
                    output_kind="text",
                    metrics={"anls": 0.5},
                    extra={},
                )
            )
        batch = []
        for i in range(samples):
            batch.append(
                {
                    "run": runs[i % len(runs)],
                    "sample_id": f"doc{i // len(runs)}-q{i % 7}",
                    "question": f"What is the value of field {i % 97}?",
                    "reference": f"value {i}",
                    "answer": f"value {i if rng.random() < 0.8 else -i}",
                    "scores": {"anls": round(rng.random(), 4), "exact_match": rng.random() < 0.8},
                    "latency_s": round(rng.random(), 4),
                    "image_path": None,
                    "doc_class": ("passport", "snils", "invoice")[i % 3],
                    "question_type": ("date", "name", "number")[i % 3],
                    "metadata": {"lang": "ru" if i % 3 else "en"},
                }
            )
            if len(batch) == 5000:
                await store.insert_samples(session, exp.id, batch)
                batch = []
        await store.insert_samples(session, exp.id, batch)
        await session.commit()
        exp_id = exp.id
    await database.dispose()
    return exp_id, runs


async def load(
    server: ServerProcess, clients: int, requests: int, path: str, params: dict
) -> list[float]:
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient) -> None:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get(path, params=params)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(
                    f"{path} {params}: HTTP {response.status_code} {response.text[:300]}\n"
                    + server.output()[-3000:]
                )

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits, timeout=60
    ) as client:
        await asyncio.gather(*(one(client) for _ in range(clients)))
    return latencies


async def samples_bench(workdir: Path, samples: int, clients: int, requests: int) -> bool:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite'}"
    started = time.perf_counter()
    exp_id, runs = await fill(url, samples)
    print(f"filled {samples} samples in {time.perf_counter() - started:.1f} s")
    server = ServerProcess(workdir / "w", url, extra=["--log-level", "warning"]).start()
    ok = True
    try:
        base = f"/api/experiments/{exp_id}/samples"
        floor = await load(server, clients, requests, "/api/health", {})
        print(
            f"\n1. samples pages, {samples} samples, {clients} concurrent clients x {requests} requests"
        )
        print(
            f"   reference GET /api/health: p50 {pct(floor, 0.5) * 1000:.1f} ms, p99 {pct(floor, 0.99) * 1000:.1f} ms"
        )
        cases = {
            "first page (50)": {"limit": 50},
            "deep page (offset 50k)": {"limit": 50, "offset": min(50000, samples // 2)},
            "sorted by score": {"limit": 50, "sort": "anls", "order": "desc", "run": runs[0]},
            "filtered by run + doc_class": {"limit": 50, "run": runs[1], "doc_class": "snils"},
            "text search": {"limit": 50, "q": "field 42?"},
        }
        print(f"   {'query':32} {'p50 ms':>8} {'p99 ms':>8} {'p99/ref':>8}  goal p99 < 100 ms")
        for name, params in cases.items():
            values = await load(server, clients, requests, base, params)
            p50, p99 = pct(values, 0.5), pct(values, 0.99)
            met = p99 < 0.1
            ok &= met if name == "first page (50)" else True
            print(
                f"   {name:32} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {p99 / pct(floor, 0.99):8.1f}  {'met' if met else 'MISSED'}"
            )
    finally:
        server.stop()
    return ok


async def fanout_bench(workdir: Path, ws_clients: int) -> bool:
    url = f"sqlite+aiosqlite:///{workdir / 'fanout.sqlite'}"
    env = {"SCRIPTED_DELAY_S": "0.002", "SCRIPTED_PROGRESS": "150"}
    server = ServerProcess(workdir / "f", url, env=env, extra=["--log-level", "warning"]).start()
    try:
        async with server.client() as client:
            made = await client.post("/api/experiments", json={"experiment": "default"})
            made.raise_for_status()
            exp_id = made.json()["id"]

        async def follow() -> tuple[list[dict], list[float]]:
            got, lags = [], []
            ws_url = f"{server.ws_url}/api/experiments/{exp_id}/events?token={TOKEN}"
            async with websockets.connect(ws_url, max_size=None) as ws:
                async for message in ws:
                    event = json.loads(message)
                    got.append(event)
                    if event.get("ts"):
                        lags.append(time.time() - event["ts"])
            return got, lags

        started = time.perf_counter()
        first = [asyncio.create_task(follow()) for _ in range(ws_clients // 2)]
        await asyncio.sleep(1.0)
        second = [asyncio.create_task(follow()) for _ in range(ws_clients - ws_clients // 2)]
        results = await asyncio.gather(*first, *second)
        took = time.perf_counter() - started
    finally:
        server.stop()
    reference = [e["seq"] for e in results[0][0]]
    count = len(reference)
    perfect = all(
        [e["seq"] for e in got] == list(range(1, count + 1)) and got[-1]["type"] == store.FINISHED
        for got, _ in results
    )
    live_lags = [lag for _, lags in results[: ws_clients // 2] for lag in lags]
    print(f"\n2. WebSocket fan-out to {ws_clients} clients ({ws_clients // 2} joined mid-run)")
    print(
        f"   events per client: {count}; run + delivery {took:.1f} s ({count / took:.0f} events/s)"
    )
    print(
        f"   every client got every event once, in order: {'yes' if perfect else 'NO'} (goal: yes)"
    )
    if live_lags:
        print(
            f"   delivery lag (live clients): p50 {pct(live_lags, 0.5) * 1000:.0f} ms, p99 {pct(live_lags, 0.99) * 1000:.0f} ms"
        )
    return perfect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10, help="per client per query")
    parser.add_argument("--ws-clients", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("RUN_MODE", "dev")
    with tempfile.TemporaryDirectory(prefix="vlmhb-bench-server-") as tmp:
        ok = asyncio.run(samples_bench(Path(tmp), args.samples, args.clients, args.requests))
        ok &= asyncio.run(fanout_bench(Path(tmp), args.ws_clients))
    print(f"\ngoals {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
