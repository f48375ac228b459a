# Run:  uv run --with ./dependency-injector --with ./core --with ./adapters/api-wrapper \
#           python bench/bench_pipeline.py [--samples 2000] [--concurrency 16 32 64] [--rounds 3]
"""Pipeline overhead: the inference runner against raw client loops and the server's capacity.

All send the same requests (same prompt, same image as a data URL) to the same API wrapper
over InstantBench (the benchmark backend of bench_wrapper_overhead.py, which answers at once),
so whatever bounds the rate is the client or the wrapper, never a model. The raw loops only
send and read; the runner also builds prompts, writes one JSON line per sample (group-committed
with flush + fsync), reports progress as production does (a ``StageProgress`` event through an
``EventBus`` into an ``events.jsonl`` log) and polls the server's resource monitor. At each
concurrency level (default 16, 32, 64), in the same run, it prints samples/s of each and:

1. runner / raw asyncio+aiohttp loop (the runner's client library, nothing else; goal >= 0.8x):
   what the runner's own per-sample work costs;
2. runner / the server's capacity: what the wrapper serves to a minimal HTTP/1.1 client
   (pre-encoded requests over keep-alive sockets, best over the levels; no client library in
   the way; goal >= 0.5x). Below that, the client side, not the model server, would bound a
   benchmark's speed;
3. for reference, a raw asyncio+httpx loop (the runner's client before it moved to aiohttp:
   httpcore's pool re-scans every connection on each request, so it falls behind as
   concurrency grows), and the CPU the runner's process and the server's process used while
   the runner ran (both share this machine's cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure
from bench_wrapper_overhead import KEY, read_response, wait_ready
from vlmhb_api_wrapper.testing import free_port
from vlmhyperbench.execution.chat_request import InferSettings, request_body
from vlmhyperbench.execution.events import EventBus, EventLog, StageProgress
from vlmhyperbench.execution.inference_runner import InferenceRunner

GOAL = 0.8
GOAL_CAPACITY = 0.5
LEVELS = (16, 32, 64)


class _Server:
    def __init__(self, url: str) -> None:
        self.base_url, self.api_key = url, KEY

    async def restart(self, reason: str) -> None:
        raise RuntimeError(reason)


def _samples(folder: Path, count: int) -> list[dict]:
    from PIL import Image

    image = folder / "page.png"
    Image.new("RGB", (64, 32), "white").save(image)
    return [
        {
            "id": str(i),
            "images": [str(image)],
            "prompt_vars": {"question": f"Напиши поле {i}"},
            "doc_class": "passport",
            "question_type": "Фамилия",
        }
        for i in range(count)
    ]


def _settings(concurrency: int) -> InferSettings:
    return InferSettings(
        model_id="instant",
        system_prompt=None,
        template="{question}",
        collection={},
        generation={"max_tokens": 8, "temperature": 0},
        response_format=None,
        json_schema=None,
        output_kind="text",
        concurrency=concurrency,
    )


def _bodies(samples: list[dict], concurrency: int) -> list[bytes]:
    """Request bodies encoded up front: the raw loops do not time building them."""
    settings = _settings(concurrency)
    return [json.dumps(request_body(s, settings)).encode() for s in samples]


async def raw_httpx(url: str, bodies: list[bytes], concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def one(body: bytes) -> None:
            async with semaphore:
                response = await client.post(
                    f"{url}/v1/chat/completions", content=body, headers=headers
                )
                response.json()["choices"][0]["message"]["content"]

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - started


async def raw_aiohttp(url: str, bodies: list[bytes], concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes) -> None:
            async with semaphore:
                async with session.post(
                    f"{url}/v1/chat/completions", data=body, headers=headers
                ) as response:
                    json.loads(await response.read())["choices"][0]["message"]["content"]

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - started


async def server_capacity(port: int, bodies: list[bytes], concurrency: int) -> float:
    """Seconds for a minimal HTTP/1.1 client to get every answer: the server's own limit.

    The requests are encoded up front and sent over ``concurrency`` keep-alive sockets, each
    with one request in flight; only the status line and Content-Length are parsed.
    """
    requests = []
    for body in bodies:
        head = (
            "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    todo = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in todo:  # shared iterator: each request is sent once
                writer.write(request)
                await read_response(reader)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started


async def runner(url: str, samples: list[dict], concurrency: int, out: Path) -> float:
    """The runner as the infer stage wires it: progress events go to an events.jsonl log."""
    bus = EventBus()
    log = EventLog(out / "events.jsonl")
    bus.subscribe(log)
    base = {"stage_id": "bench", "stage_kind": "infer", "name": "infer bench"}

    def progress(done: int, total: int, failed: int) -> None:
        bus.publish(StageProgress(**base, done=done, total=total, failed=failed))

    run = InferenceRunner(
        samples, out / "answers.jsonl", _settings(concurrency), _Server(url), progress
    )
    try:
        started = time.perf_counter()
        records = await run.run()
        elapsed = time.perf_counter() - started
    finally:
        log.close()
    assert len(records) == len(samples) and all(r.parse_status == "text" for r in records)
    return elapsed


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _timed(
    server: psutil.Process, run: Callable[[], Awaitable[float]]
) -> tuple[float, float, float]:
    """(wall s, this process's CPU s, the server's CPU s) of one measurement."""
    me = psutil.Process()
    mine, theirs = _cpu_s(me), _cpu_s(server)
    wall = asyncio.run(run())
    return wall, _cpu_s(me) - mine, _cpu_s(server) - theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    overhead = Path(__file__).with_name("bench_wrapper_overhead.py")
    server = subprocess.Popen([sys.executable, str(overhead), "--serve", str(port)])
    levels = args.concurrency
    n = args.samples
    try:
        wait_ready(url, server)
        serving = psutil.Process(server.pid)
        with tempfile.TemporaryDirectory() as tmp:
            samples = _samples(Path(tmp), n)
            bodies = _bodies(samples, 1)
            asyncio.run(raw_aiohttp(url, bodies[:200], 16))  # warm-up
            capacity: dict[int, list[float]] = {c: [] for c in levels}
            raw: dict[int, list[float]] = {c: [] for c in levels}
            ran: dict[int, list[tuple[float, float, float]]] = {c: [] for c in levels}
            httpx_s: dict[int, float] = {}
            for i in range(args.rounds):  # interleaved, so machine noise hits all alike
                for c in levels:
                    capacity[c].append(asyncio.run(server_capacity(port, bodies, c)))
                    raw[c].append(asyncio.run(raw_aiohttp(url, bodies, c)))
                    out = Path(tmp) / f"run{i}-{c}"
                    out.mkdir()
                    ran[c].append(_timed(serving, lambda c=c, o=out: runner(url, samples, c, o)))
                    if i == 0:  # a reference only, and slow at high concurrency: one round
                        httpx_s[c] = asyncio.run(raw_httpx(url, bodies, c))
        capacity_rate = {c: n / min(t) for c, t in capacity.items()}
        best_level = max(capacity_rate, key=capacity_rate.__getitem__)
        server_rate = capacity_rate[best_level]
        print(f"{n} samples, best of {args.rounds} rounds; rates in samples (requests) per second")
        print(
            f"{'conc':>4} {'capacity':>9} {'aiohttp':>9} {'httpx':>9} {'runner':>9}"
            f" {'runner/':>8} {'runner/':>8} {'runner/':>8}   CPU while the runner ran"
        )
        print(
            f"{'':>4} {'raw HTTP':>9} {'raw loop':>9} {'raw loop':>9} {'':>9}"
            f" {'capacity':>8} {'aiohttp':>8} {'httpx':>8}   (of one core: runner, server)"
        )
        figures = []
        for c in levels:
            wall, client_cpu, server_cpu = min(ran[c])
            runner_rate = n / wall
            raw_rate = n / min(raw[c])
            httpx_rate = n / httpx_s[c]
            of_server = runner_rate / server_rate
            of_raw = runner_rate / raw_rate
            print(
                f"{c:>4} {capacity_rate[c]:9.0f} {raw_rate:9.0f} {httpx_rate:9.0f}"
                f" {runner_rate:9.0f} {of_server:8.2f} {of_raw:8.2f} {runner_rate / httpx_rate:8.2f}"
                f"   {client_cpu / wall:4.0%}, {server_cpu / wall:4.0%}"
                f" ({client_cpu / n * 1e6:.0f} and {server_cpu / n * 1e6:.0f} µs per sample)"
            )
            figures += [
                figure(
                    f"runner / server capacity, concurrency {c}",
                    round(of_server, 2),
                    "x",
                    f">= {GOAL_CAPACITY}x",
                    of_server >= GOAL_CAPACITY,
                ),
                figure(
                    f"runner / raw aiohttp loop, concurrency {c}",
                    round(of_raw, 2),
                    "x",
                    f">= {GOAL}x",
                    of_raw >= GOAL,
                ),
                figure(f"runner rate, concurrency {c}", round(runner_rate, 1), "samples/s"),
                figure(f"raw httpx loop rate, concurrency {c}", round(httpx_rate, 1), "samples/s"),
            ]
        figures.append(figure("server capacity (raw HTTP/1.1)", round(server_rate, 1), "req/s"))
        worst_server = min(f["value"] for f in figures if f["name"].startswith("runner / server"))
        worst_raw = min(f["value"] for f in figures if f["name"].startswith("runner / raw"))
        print(
            f"server capacity: {server_rate:.0f} req/s (at concurrency {best_level}); "
            f"runner/capacity >= {GOAL_CAPACITY}: "
            f"{'met' if worst_server >= GOAL_CAPACITY else 'NOT met'} (worst {worst_server:.2f}); "
            f"runner/raw aiohttp >= {GOAL}: {'met' if worst_raw >= GOAL else 'NOT met'}"
            f" (worst {worst_raw:.2f})"
        )
        emit("pipeline", figures)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
