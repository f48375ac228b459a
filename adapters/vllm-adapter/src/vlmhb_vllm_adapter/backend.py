"""The ``vllm`` backend: vLLM's async engine in the wrapper's process.

Every request of a batch is submitted to the engine at once, so vLLM's scheduler batches
them continuously on the GPU; the backend never waits for one sample before sending the next.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from vlmhb_api_wrapper.backend import GenerationRequest, GenerationResult

from vlmhb_vllm_adapter.config import ConfigError, VllmModelConfig, parse_config
from vlmhb_vllm_adapter.engine import (
    CHAT_PROMPT_TOKENIZATION,
    EngineUnavailable,
    LoadedEngine,
    load_vllm_engine,
)
from vlmhb_vllm_adapter.mapping import (
    RequestError,
    count_images,
    decode_images,
    sampling_settings,
    structured_output,
    to_chat_messages,
)

#: Engine settings used when the wrapper starts without a model config. It names no model:
#: a hub id would make an offline start hang on downloads and then fail deep inside vLLM,
#: so the first load says which config is missing instead (see :data:`NO_MODEL`).
DEFAULT_CONFIG: dict[str, Any] = {
    "dtype": "bfloat16",
    "max_model_len": 8192,
    "gpu_memory_utilization": 0.85,
    "limit_mm_per_prompt": {"image": 4},
}
NO_MODEL = (
    "vllm model config: field 'model': no model given. Start the server with "
    "`vlmhb-serve --backend vllm --model-config FILE` (a YAML mapping with `model: "
    "/path/to/weights`), or POST /v1/models/load with {'config': {'model': ...}}; the weights "
    "are a local folder (a hub id works only where the model hub is reachable)"
)

#: vLLM's finish reasons -> the wrapper's. ``repetition`` (vLLM 0.33: a repetition detector
#: ended the answer) and ``stop`` both mean the answer ended by itself; ``abort`` and
#: anything unknown are errors.
_FINISH_REASONS = {"stop": "stop", "length": "length", "repetition": "stop"}


class VllmBackend:
    """Backend ``vllm`` (entry point group ``vlmhyperbench.backends``).

    ``engine_loader`` exists for tests on machines without a GPU, which hand in a test
    double of the engine; in service it is always :func:`load_vllm_engine`.
    """

    name: ClassVar[str] = "vllm"
    supports_batching: ClassVar[bool] = True

    def __init__(
        self, engine_loader: Callable[[VllmModelConfig], LoadedEngine] = load_vllm_engine
    ) -> None:
        self._engine_loader = engine_loader
        self._config: VllmModelConfig | None = None
        self._loaded: LoadedEngine | None = None

    def default_config(self) -> dict[str, Any]:
        return dict(DEFAULT_CONFIG)

    async def load(self, config: dict[str, Any]) -> None:
        if not config.get("model") and not (config.get("engine_args") or {}).get("model"):
            raise ConfigError(NO_MODEL)
        parsed = parse_config(config)  # fails fast, before any GPU work
        if self._loaded is not None:
            await self.unload()
        # Starting vLLM takes seconds on a CPU and minutes on a GPU with real weights, all of
        # it blocking: in a worker thread, so /health and /ready keep answering meanwhile.
        self._loaded = await asyncio.to_thread(self._engine_loader, parsed)
        self._config = parsed

    async def unload(self) -> None:
        loaded, self._loaded, self._config = self._loaded, None, None
        if loaded is None:
            return
        await asyncio.to_thread(loaded.shutdown)
        del loaded
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    async def generate(self, batch: list[GenerationRequest]) -> list[GenerationResult]:
        if self._loaded is None or self._config is None:
            raise RuntimeError("no model is loaded: call load() first")
        loaded, config = self._loaded, self._config
        return list(
            await asyncio.gather(*(self._generate_one(loaded, config, req) for req in batch))
        )

    async def _generate_one(
        self, loaded: LoadedEngine, config: VllmModelConfig, request: GenerationRequest
    ) -> GenerationResult:
        try:
            inputs, params = self._prepare(loaded, config, request)
        except EngineUnavailable as exc:
            return _error(f"request {request.request_id}: {exc}")
        except (RequestError, *loaded.client_errors) as exc:  # e.g. a schema vLLM rejects
            return GenerationResult.refused(f"request {request.request_id}: {exc}")
        # vLLM refuses two live requests with one id; the wrapper's ids need not be unique.
        engine_id = f"{request.request_id}-{uuid.uuid4().hex[:8]}"
        final = None
        try:
            async for output in loaded.engine.generate(
                inputs, params, engine_id, tokenization_kwargs=dict(CHAT_PROMPT_TOKENIZATION)
            ):
                final = output
        except loaded.client_errors as exc:  # refused as sent: over a limit, a bad schema
            return GenerationResult.refused(f"request {request.request_id}: {exc}")
        except Exception as exc:  # one failed request must not fail the batch
            return _error(f"request {request.request_id}: engine error: {exc}")
        if final is None or not final.outputs:
            return _error(f"request {request.request_id}: the engine returned no output")
        completion = final.outputs[0]
        reason = getattr(completion, "finish_reason", None)
        return GenerationResult(
            text=completion.text,
            prompt_tokens=len(final.prompt_token_ids or ()),
            completion_tokens=len(completion.token_ids or ()),
            finish_reason=_FINISH_REASONS.get(reason, "stop" if reason is None else "error"),
            error=None if reason in (None, *_FINISH_REASONS) else f"finished: {reason}",
        )

    @staticmethod
    def _prepare(
        loaded: LoadedEngine, config: VllmModelConfig, request: GenerationRequest
    ) -> tuple[dict[str, Any], Any]:
        limit = config.limit_mm_per_prompt.get("image", 1)
        n_images = count_images(request.messages)
        if n_images > limit:
            raise RequestError(
                f"{n_images} images, but the model is loaded with limit_mm_per_prompt.image={limit}"
                f" (at most {limit} image(s) per request)"
            )
        images = decode_images(request.messages)
        prompt = loaded.render_prompt(to_chat_messages(request.messages))
        inputs: dict[str, Any] = {"prompt": prompt}
        if images:
            inputs["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
        settings = sampling_settings(request, config.default_max_tokens)
        params = loaded.sampling.build(settings, structured_output(request.response_format))
        return inputs, params

    def info(self) -> dict[str, Any]:
        versions = {"vlmhb-vllm-adapter": importlib.metadata.version("vlmhb-vllm-adapter")}
        if self._loaded is not None:
            versions.update(self._loaded.versions)
        return {
            "backend": self.name,
            "loaded": self._loaded is not None,
            "model": self._config.model if self._config else None,
            "config": self._config.model_dump() if self._config else None,
            "structured_outputs": self._loaded.sampling.flavour if self._loaded else None,
            "versions": versions,
        }


def _error(message: str) -> GenerationResult:
    return GenerationResult(text="", finish_reason="error", error=message)
