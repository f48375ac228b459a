# Run:  uv venv /tmp/tfa && uv pip install --python /tmp/tfa --find-links /opt/wheels \
#           torch==2.13.0 -e adapters/api-wrapper -e adapters/transformers-adapter
#       /tmp/tfa/bin/python bench/bench_transformers.py [--model DIR] [--batch 8] [--tokens 64]
#       (without --model the tiny random Qwen2-VL is built under ~/.cache/vlmhb/tiny-qwen2-vl;
#        off this machine use the PyTorch CPU index instead of --find-links /opt/wheels)
"""Tokens/s of a checkpoint through the API wrapper vs ``model.generate`` called directly.

The reference is what a user would write by hand in one process: the checkpoint's processor
on a batch of chat prompts (each with one image), then one greedy ``model.generate`` call.
The measured path is the whole service: ``vlmhb-serve --backend transformers`` in its own
process, ``--batch`` concurrent HTTP requests (data: URL images, JSON in and out), the
wrapper's batching, the backend's per-row controller (sampling, budget) and decoding.

Both produce the same number of tokens per request: the prompts are the same and the
backend runs greedy, so the answers are the same tokens. Each side runs ``--rounds`` times
after a warm-up; the medians are compared. Goal: wrapper >= 0.9 x direct.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import torch
import yaml
from PIL import Image
from transformers import AutoModelForImageTextToText
from vlmhb_api_wrapper.testing import free_port
from vlmhb_transformers_adapter import load_processor, parse_config

GOAL = 0.9
KEY = "bench-key-not-secret"
ROOT = Path(__file__).resolve().parents[1]


def ensure_tiny(path: Path) -> Path:
    if (path / "model.safetensors").is_file():
        return path
    spec = importlib.util.spec_from_file_location("tiny", ROOT / "scripts" / "make_tiny_qwen2vl.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(path, seed=0)
    return path


def image_png(i: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (224, 160), (40 * i % 255, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def question(i: int) -> str:
    return f"Документ {i}: напиши Фамилия, Имя и Дата рождения."


def direct(model_dir: Path, batch: int, tokens: int, rounds: int) -> tuple[float, int]:
    """Median tokens/s of processor + model.generate, and tokens per round."""
    config = parse_config({"model": str(model_dir), "device": "cpu"})
    torch.set_num_threads(config.torch_threads())
    processor, _ = load_processor(str(model_dir), config)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    chats = [
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question(i)}]}]
        for i in range(batch)
    ]
    images = [[Image.open(io.BytesIO(image_png(i))).convert("RGB")] for i in range(batch)]
    speeds, produced = [], 0
    for round_ in range(rounds + 1):
        started = time.perf_counter()
        texts = [
            processor.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
            for c in chats
        ]
        inputs = processor(text=texts, images=images, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=tokens, do_sample=False)
        new = out[:, inputs["input_ids"].shape[1] :]
        eos = set(model.generation_config.eos_token_id or [])
        produced = sum(_until_eos(row.tolist(), eos) for row in new)
        if round_:  # the first is a warm-up
            speeds.append(produced / (time.perf_counter() - started))
    return statistics.median(speeds), produced


def _until_eos(row: list[int], eos: set[int]) -> int:
    for i, token in enumerate(row):
        if token in eos:
            return i + 1
    return len(row)


async def through_wrapper(
    url: str, batch: int, tokens: int, rounds: int, model: str = "transformers"
) -> tuple[float, int]:
    """Median tokens/s of ``batch`` concurrent image requests to a served ``model`` (its id or
    its backend's name), and tokens per round (also used by bench_vllm.py)."""
    headers = {"X-API-Key": KEY}
    bodies = [
        {
            "model": model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {
                                "url": "data:image/png;base64,"
                                + base64.b64encode(image_png(i)).decode()
                            },
                        },
                        {"type": "text", "text": question(i)},
                    ],
                }
            ],
            "max_tokens": tokens,
            "temperature": 0,
        }
        for i in range(batch)
    ]
    speeds, produced = [], 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as client:
        for round_ in range(rounds + 1):
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(client.post("/v1/chat/completions", json=body) for body in bodies)
            )
            for answer in answers:
                if answer.status_code != 200:
                    raise SystemExit(f"HTTP {answer.status_code} from {url}: {answer.text[:500]}")
            produced = sum(a.json()["usage"]["completion_tokens"] for a in answers)
            if round_:
                speeds.append(produced / (time.perf_counter() - started))
    return statistics.median(speeds), produced


def start_server(model_dir: Path, batch: int, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = folder / "model.yaml"
    config.write_text(
        yaml.safe_dump({"model": str(model_dir), "device": "cpu", "max_batch_size": batch}),
        encoding="utf-8",
    )
    port = free_port()
    serve = Path(sys.executable).with_name("vlmhb-serve")
    server = subprocess.Popen(
        [
            str(serve),
            "--backend",
            "transformers",
            "--model-config",
            str(config),
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--log-level",
            "warning",
            "--batch-window-ms",
            "20",
            "--max-batch-size",
            str(batch),
        ]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", headers={"X-API-Key": KEY}).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not become ready")


def _batch_sizes(metrics: dict) -> object:
    return metrics.get("batches", {}).get("recent_sizes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the tiny one)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model_dir = args.model or ensure_tiny(Path.home() / ".cache" / "vlmhb" / "tiny-qwen2-vl")

    direct_speed, direct_tokens = direct(model_dir, args.batch, args.tokens, args.rounds)
    folder = Path(
        subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip()
    )
    server, url = start_server(model_dir, args.batch, folder)
    try:
        wrapped_speed, wrapped_tokens = asyncio.run(
            through_wrapper(url, args.batch, args.tokens, args.rounds)
        )
        metrics = httpx.get(f"{url}/v1/metrics", headers={"X-API-Key": KEY}).json()
    finally:
        server.terminate()
        server.wait(timeout=30)

    ratio = wrapped_speed / direct_speed
    print(f"model {model_dir}, batch {args.batch}, max {args.tokens} tokens, {args.rounds} rounds")
    print(
        f"  direct model.generate : {direct_speed:8.1f} tokens/s ({direct_tokens} tokens a round)"
    )
    print(
        f"  through the wrapper   : {wrapped_speed:8.1f} tokens/s ({wrapped_tokens} tokens a round)"
    )
    print(f"  batches the wrapper formed: {_batch_sizes(metrics)}")
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"  ratio wrapper/direct  : {ratio:.2f} x ({verdict} the goal of >= {GOAL} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
