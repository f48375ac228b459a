#!/usr/bin/env bash
# GPU smoke check: the VLM path on vLLM (and DeepSeek where its weights are present), plus
# vLLM's own `vllm bench throughput` on the same checkpoints, printed as ours/theirs.
#
# Run on a machine with an NVIDIA GPU, from the repository root:
#     bash scripts/gpu_check.sh [WORKDIR]          # default WORKDIR: .work-gpu
# Environment:
#     QWEN2VL_DIR    a real Qwen2-VL-2B-Instruct folder (optional; default /models/Qwen2-VL-2B-Instruct)
#     DEEPSEEK_DIR   a DeepSeek-VL2 folder (optional; skipped when absent)
#     TOKENS         output tokens per request for the throughput runs (default 64)
#     PROMPTS        requests per throughput run (default 64)
# What it does:
#   1. a venv with vllm (CUDA build), the vllm, deepseek and transformers adapters, the core;
#   2. builds the tiny random Qwen2-VL under WORKDIR/models/tiny-qwen2-vl;
#   3. runs the smoke-vlm matrix on vLLM with the tiny checkpoint (model and experiment
#      entries added by an overlay) and, when the folders exist, the real Qwen2-VL and DeepSeek-VL2;
#   4. measures tokens/s through our wrapper (bench/bench_transformers.py's client against
#      `vlmhb-serve --backend vllm`) and `vllm bench throughput` on each checkpoint;
#   5. prints one line per checkpoint: ours, theirs, ours/theirs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKDIR="$(realpath -m "${1:-$ROOT/.work-gpu}")"
QWEN2VL_DIR="${QWEN2VL_DIR:-/models/Qwen2-VL-2B-Instruct}"
DEEPSEEK_DIR="${DEEPSEEK_DIR:-}"
TOKENS="${TOKENS:-64}"
PROMPTS="${PROMPTS:-64}"
VENV="$WORKDIR/venv"
PY="$VENV/bin/python"
export VLMHB_WORKDIR="$WORKDIR" RUN_MODE=dev

command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi: run this on a GPU machine" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
mkdir -p "$WORKDIR/models" "$WORKDIR/overlay/models" "$WORKDIR/results"

echo "== 1. environment"
[ -x "$PY" ] || uv venv -q --python 3.11 "$VENV"
uv pip install -q --python "$PY" \
    -e "$ROOT/dependency-injector" -e "$ROOT/data-layer" -e "$ROOT/core" \
    -e "$ROOT/adapters/api-wrapper" -e "$ROOT/adapters/vllm-adapter[engine,test]" \
    -e "$ROOT/adapters/transformers-adapter" -e "$ROOT/adapters/deepseek-adapter"
"$PY" -c "import torch, vllm; assert torch.cuda.is_available(); print('vllm', vllm.__version__, 'torch', torch.__version__)"

echo "== 2. tiny checkpoint"
TINY="$WORKDIR/models/tiny-qwen2-vl"
[ -f "$TINY/model.safetensors" ] || "$PY" "$ROOT/scripts/make_tiny_qwen2vl.py" "$TINY"

echo "== 2b. the CPU smoke's served checks on the GPU build (tiny Idefics3, openai client)"
TINY_IDEFICS3="$WORKDIR/models/tiny-idefics3"
[ -f "$TINY_IDEFICS3/model.safetensors" ] || "$PY" "$ROOT/scripts/make_tiny_idefics3.py" "$TINY_IDEFICS3"
VLMHB_TINY_VLLM_MODEL="$TINY_IDEFICS3" VLMHB_SMOKE_VLLM_OUT="$WORKDIR/results" \
    "$PY" -m pytest "$ROOT/adapters/vllm-adapter/tests/test_served_engine.py" -v -s -p no:cacheprovider

echo "== 3. smoke experiments on vLLM (and DeepSeek)"
smoke() {  # smoke <name> <framework> <model.yaml body>: the smoke-vlm matrix on another model
    local name="$1" framework="$2" body="$3"
    mkdir -p "$WORKDIR/overlay/experiments"
    printf 'framework: %s\nmodel:\n%s\ngeneration: {max_tokens: 96, temperature: 0, seed: 0}\nconcurrency: 16\n' \
        "$framework" "$body" > "$WORKDIR/overlay/models/$name.yaml"
    sed "s/models: \[tiny-qwen2-vl\]/models: [$name]/" "$ROOT/registries/experiments/smoke-vlm.yaml" \
        > "$WORKDIR/overlay/experiments/smoke-$name.yaml"
    "$VENV/bin/vlmhb" run "smoke-$name" --workdir "$WORKDIR" --overlay "$WORKDIR/overlay"
}
smoke tiny-qwen2-vl-vllm vllm "  model: $TINY
  dtype: float32
  max_model_len: 2048
  gpu_memory_utilization: 0.3
  limit_mm_per_prompt: {image: 2}"
if [ -d "$QWEN2VL_DIR" ]; then
    smoke qwen2-vl-vllm vllm "  model: $QWEN2VL_DIR
  dtype: bfloat16
  max_model_len: 8192
  gpu_memory_utilization: 0.85"
else
    echo "   (no $QWEN2VL_DIR: the real Qwen2-VL run is skipped)"
fi
if [ -n "$DEEPSEEK_DIR" ] && [ -d "$DEEPSEEK_DIR" ]; then
    smoke deepseek-vl2 deepseek "  model: $DEEPSEEK_DIR"
else
    echo "   (DEEPSEEK_DIR not set or missing: the DeepSeek run is skipped)"
fi

echo "== 4. throughput: ours (wrapper + vllm backend) vs vllm bench throughput"
ours() {  # tokens/s through vlmhb-serve --backend vllm, PROMPTS concurrent text requests
    local model="$1" port config
    port="$("$PY" -c 'from vlmhb_api_wrapper.testing import free_port; print(free_port())')"
    config="$WORKDIR/results/$(basename "$model").json"
    printf '{"model": "%s", "max_model_len": 2048, "gpu_memory_utilization": 0.5}' "$model" > "$config"
    "$VENV/bin/vlmhb-serve" --backend vllm --model-config "$config" --port "$port" \
        --api-key gpu-check --log-level warning --max-batch-size "$PROMPTS" &
    local pid=$!
    "$PY" - "$port" "$TOKENS" "$PROMPTS" <<'PYEOF'
import asyncio, sys, time
import httpx
port, tokens, prompts = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
url, headers = f"http://127.0.0.1:{port}", {"X-API-Key": "gpu-check"}
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    try:
        if httpx.get(f"{url}/ready", headers=headers).status_code == 200:
            break
    except httpx.TransportError:
        pass
    time.sleep(1)
async def run():
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=900) as client:
        body = lambda i: {"model": "vllm", "max_tokens": tokens, "temperature": 0,
                          "messages": [{"role": "user", "content": f"Count to {i}:"}]}
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.post("/v1/chat/completions", json=body(i)) for i in range(prompts)))
        elapsed = time.perf_counter() - started
        return sum(a.json()["usage"]["completion_tokens"] for a in answers) / elapsed
print(f"{asyncio.run(run()):.1f}")
PYEOF
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
theirs() {  # output tokens/s from vllm bench throughput, random prompts of the same length
    local model="$1" out="$WORKDIR/results/theirs-$(basename "$1").json"
    "$VENV/bin/vllm" bench throughput --model "$model" --dataset-name random \
        --input-len 32 --output-len "$TOKENS" --num-prompts "$PROMPTS" \
        --max-model-len 2048 --gpu-memory-utilization 0.5 --output-json "$out" >/dev/null
    "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"{d.get('tokens_per_second', 0) * $TOKENS / (32 + $TOKENS):.1f}\")" "$out"
}
summary=()
for model in "$TINY" "$QWEN2VL_DIR"; do
    [ -d "$model" ] || continue
    o="$(ours "$model" | tail -n1)"; t="$(theirs "$model" | tail -n1)"
    summary+=("$(basename "$model"): ours $o tok/s, vllm bench $t tok/s, ours/theirs $("$PY" -c "print(f'{$o / $t:.2f}')")")
done

echo "== 5. summary (output tokens/s, $PROMPTS requests x $TOKENS tokens)"
printf '%s\n' "${summary[@]}"
