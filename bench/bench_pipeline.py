# Run:  uv run --with ./dependency-injector --with ./core --with ./adapters/api-wrapper \
#           python bench/bench_pipeline.py [--samples 2000] [--concurrency 16] [--rounds 3]
"""Pipeline overhead: the inference runner against a raw asyncio + httpx loop and the server.

All send the same requests (same prompt, same image as a data URL) to the same API wrapper
over InstantBench (the benchmark backend of bench_wrapper_overhead.py, which answers at once).
The raw loop only sends and reads; the runner also builds prompts, writes one flushed and
fsynced JSON line per sample, reports progress and keeps telemetry. Prints samples/s of each:

1. runner / raw asyncio+httpx loop at the same concurrency (goal >= 0.8x);
2. runner / the server's capacity: what the wrapper serves to a minimal HTTP/1.1 client
   (pre-encoded requests over keep-alive sockets, best of concurrency 16, 32 and 64; no
   client library in the way), measured in the same run (goal >= 0.5x). Below that, the
   client side, not the model server, would bound a benchmark's speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure
from bench_wrapper_overhead import KEY, wait_ready
from vlmhb_api_wrapper.testing import free_port
from vlmhyperbench.execution.infer import (
    InferenceRunner,
    InferSettings,
    request_body,
)

GOAL = 0.8
GOAL_CAPACITY = 0.5
CAPACITY_CONCURRENCY = (16, 32, 64)


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


async def raw_loop(url: str, samples: list[dict], concurrency: int) -> float:
    settings = _settings(concurrency)
    bodies = [request_body(s, settings) for s in samples]  # built up front: not timed
    semaphore = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency * 2)) as client:

        async def one(body: dict) -> None:
            async with semaphore:
                response = await client.post(
                    f"{url}/v1/chat/completions", json=body, headers=headers
                )
                response.json()["choices"][0]["message"]["content"]

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - started


async def server_capacity(port: int, samples: list[dict], concurrency: int) -> float:
    """Seconds for a minimal HTTP/1.1 client to get every answer: the server's own limit.

    The requests are encoded up front and sent over ``concurrency`` keep-alive sockets, each
    with one request in flight; only the status line and Content-Length are parsed.
    """
    settings = _settings(concurrency)
    requests = []
    for sample in samples:
        body = json.dumps(request_body(sample, settings)).encode()
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
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started


async def runner(url: str, samples: list[dict], concurrency: int, out: Path) -> float:
    run = InferenceRunner(samples, out / "answers.jsonl", _settings(concurrency), _Server(url))
    started = time.perf_counter()
    records = await run.run()
    elapsed = time.perf_counter() - started
    assert len(records) == len(samples) and all(r.parse_status == "text" for r in records)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    overhead = Path(__file__).with_name("bench_wrapper_overhead.py")
    server = subprocess.Popen([sys.executable, str(overhead), "--serve", str(port)])
    try:
        wait_ready(url, server)
        with tempfile.TemporaryDirectory() as tmp:
            samples = _samples(Path(tmp), args.samples)
            asyncio.run(raw_loop(url, samples[:100], args.concurrency))  # warm-up
            raw_times, runner_times = [], []
            capacity: dict[int, list[float]] = {c: [] for c in CAPACITY_CONCURRENCY}
            for i in range(args.rounds):  # interleaved, so machine noise hits all alike
                for level in CAPACITY_CONCURRENCY:
                    capacity[level].append(asyncio.run(server_capacity(port, samples, level)))
                raw_times.append(asyncio.run(raw_loop(url, samples, args.concurrency)))
                out = Path(tmp) / f"run{i}"
                out.mkdir()
                runner_times.append(asyncio.run(runner(url, samples, args.concurrency, out)))
        raw_rate = args.samples / min(raw_times)
        runner_rate = args.samples / min(runner_times)
        ratio = runner_rate / raw_rate
        capacity_rates = {c: args.samples / min(t) for c, t in capacity.items()}
        best_level = max(capacity_rates, key=capacity_rates.__getitem__)
        server_rate = capacity_rates[best_level]
        of_server = runner_rate / server_rate
        print(f"{args.samples} samples, concurrency {args.concurrency}, best of {args.rounds}")
        print(f"raw asyncio+httpx loop : {raw_rate:8.1f} samples/s")
        print(f"inference runner       : {runner_rate:8.1f} samples/s")
        for level, rate in capacity_rates.items():
            print(
                f"server capacity, raw HTTP/1.1 client, concurrency {level:>2}: {rate:8.1f} req/s"
            )
        print(
            f"ratio runner/raw       : {ratio:8.2f}  (goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'})"
        )
        print(
            f"ratio runner/server    : {of_server:8.2f}  (server capacity {server_rate:.0f} req/s at "
            f"concurrency {best_level}; goal >= {GOAL_CAPACITY}: "
            f"{'met' if of_server >= GOAL_CAPACITY else 'NOT met'})"
        )
        emit(
            "pipeline",
            [
                figure(
                    "runner / raw asyncio+httpx loop",
                    round(ratio, 2),
                    "x",
                    f">= {GOAL}x",
                    ratio >= GOAL,
                ),
                figure(
                    "runner / server capacity (raw HTTP/1.1)",
                    round(of_server, 2),
                    "x",
                    f">= {GOAL_CAPACITY}x",
                    of_server >= GOAL_CAPACITY,
                ),
                figure("runner rate", round(runner_rate, 1), "samples/s"),
                figure("raw httpx loop rate", round(raw_rate, 1), "samples/s"),
                figure("server capacity (raw HTTP/1.1)", round(server_rate, 1), "req/s"),
            ],
        )
    finally:
        server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
