# Run:  uv run --no-project --with ./dependency-injector --with ./statistics --with ./reporting \
#         --with ./stages --with ./migration/v01 --with ./core --with ./adapters/api-wrapper \
#         --with pillow --with sniffio python bench/bench_rate_limit.py [--rpm 600] [--requests N]
"""How close the inference runner gets to an endpoint's requests-per-minute limit, unrefused.

A hosted API refuses what passes its limit with 429; a client that sends into the limit wastes
its quota on refusals and waits on Retry-After, one that paces too carefully leaves throughput
unused. Here the endpoint is the API wrapper over an instant backend (from
bench_wrapper_overhead.py, in its own process) behind ``FaultProxy`` (tests/fault_proxy.py)
enforcing R requests per sliding minute with 429 + Retry-After, as providers do. The runner
is told ``rate_limits.rpm = R`` and sends ``--requests`` samples (default R: about a minute).

Figures, against the declared limit measured in the same run: achieved rate / R (goal >=
0.95) and the share of requests answered 429 (goal < 1%).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from PIL import Image
from vlmhb_api_wrapper.testing import free_port
from vlmhyperbench.execution.chat_request import InferSettings
from vlmhyperbench.execution.endpoint import EndpointServer
from vlmhyperbench.execution.inference_runner import InferenceRunner
from vlmhyperbench.registry.models import ModelEntry

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
from _result import emit, figure  # noqa: E402
from bench_wrapper_overhead import KEY, wait_ready  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402

KEY_ENV = "VLMHB_BENCH_RATE_KEY"


def _samples(folder: Path, n: int) -> list[dict]:
    page = folder / "page.png"
    Image.new("RGB", (64, 32), "white").save(page)
    return [
        {"id": str(i), "images": [str(page)], "prompt_vars": {"question": "q"}} for i in range(n)
    ]


def _runner(base_url: str, samples: list[dict], answers: Path, rpm: float, concurrency: int):
    import os

    os.environ[KEY_ENV] = KEY
    entry = ModelEntry.model_validate(
        {
            "name": "limited",
            "framework": "openai-compatible",
            "endpoint": {"base_url": base_url, "model": "instant", "api_key_env": KEY_ENV},
            "rate_limits": {"rpm": rpm, "max_concurrency": concurrency},
        }
    )
    server = EndpointServer(types.SimpleNamespace(model=entry))  # type: ignore[arg-type]
    server.start()  # the pre-flight GET /models, as a run does
    settings = InferSettings(
        model_id="instant",
        system_prompt=None,
        template="{question}",
        collection={},
        generation={"max_tokens": 4},
        response_format=None,
        json_schema=None,
        output_kind="text",
        concurrency=concurrency,
        per_run=5,
        max_attempts=5,
        rpm=rpm,
        max_consecutive_failures=1000,
    )
    return InferenceRunner(samples, answers, settings, server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpm", type=float, default=600.0, help="the endpoint's limit R")
    parser.add_argument("--requests", type=int, default=None, help="default: R (a minute)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rpm, n = args.rpm, args.requests or int(args.rpm)
    port = free_port()
    wrapper = subprocess.Popen(
        [sys.executable, str(BENCH / "bench_wrapper_overhead.py"), "--serve", str(port)]
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", wrapper)
        with FaultProxy(f"http://127.0.0.1:{port}/v1", rpm=rpm) as proxy:
            with tempfile.TemporaryDirectory() as tmp:
                runner = _runner(
                    proxy.base_url,
                    _samples(Path(tmp), n),
                    Path(tmp) / "answers.jsonl",
                    rpm,
                    args.concurrency,
                )
                started = time.monotonic()
                records = asyncio.run(runner.run())
                took = time.monotonic() - started
        answered = sum(1 for r in records if r.parse_status != "failed")
        sent = len(proxy.completions())
        refused = proxy.count(429)
    finally:
        wrapper.terminate()
        wrapper.wait(timeout=30)
    # n requests started at most 60/(R*headroom) apart take (n - 1) intervals: the rate is
    # counted over those intervals, as a provider's window counts arrivals
    first = min(r.started_at for r in records if r.started_at)
    last = max(r.started_at for r in records if r.started_at)
    achieved = (answered - 1) / (last - first) * 60 if last > first else 0.0
    ratio = achieved / rpm
    share = refused / sent if sent else 0.0
    print(f"limit R = {rpm:g} requests/min; {n} samples, concurrency {args.concurrency}")
    print(f"answered {answered}/{n} in {took:.1f} s; requests sent {sent}, answered 429: {refused}")
    print(f"achieved rate {achieved:.1f}/min = {ratio:.3f} x R (goal >= 0.95)")
    print(f"429 share {share:.4f} (goal < 0.01)")
    emit(
        "rate_limit",
        [
            figure("achieved rate / rpm limit", round(ratio, 4), "x", ">= 0.95", ratio >= 0.95),
            figure("share of requests answered 429", round(share, 4), "", "< 0.01", share < 0.01),
            figure("samples answered", answered, "", f"= {n}", answered == n),
        ],
    )
    return 0 if answered == n else 1


if __name__ == "__main__":
    sys.exit(main())
