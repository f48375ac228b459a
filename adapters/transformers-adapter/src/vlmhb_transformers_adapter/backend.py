"""The ``transformers`` backend: a Hugging Face image-text-to-text checkpoint, in-process.

Generation is blocking torch code, so it runs on one worker thread of the backend's own,
never on the wrapper's event loop (health checks, metrics and new requests stay answered
while a batch runs). Requests that arrive while a batch runs wait in a queue and go into
the next ``generate`` call together, up to ``max_batch_size``: on a slow device the
wrapper's short batching window alone would send many small batches.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from vlmhb_api_wrapper.backend import GenerationRequest, GenerationResult

from vlmhb_transformers_adapter.config import TransformersModelConfig, parse_config
from vlmhb_transformers_adapter.engine import LoadedModel, load_model, run_requests

#: Served when the wrapper starts without a model config (the registry usually names one).
DEFAULT_CONFIG: dict[str, Any] = {"model": "~/models/tiny-qwen2-vl", "device": "auto"}


class TransformersBackend:
    """Backend ``transformers`` (entry-point group ``vlmhyperbench.backends``)."""

    name: ClassVar[str] = "transformers"
    supports_batching: ClassVar[bool] = True

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlmhb-transformers")
        self._config: TransformersModelConfig | None = None
        self._loaded: LoadedModel | None = None
        self._pending: list[tuple[GenerationRequest, asyncio.Future[GenerationResult]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []  # sizes of the generate() calls made, for tests/bench

    def default_config(self) -> dict[str, Any]:
        return dict(DEFAULT_CONFIG)

    async def load(self, config: dict[str, Any]) -> None:
        parsed = parse_config(config)  # fails fast, before any weights are read
        if self._loaded is not None:
            await self.unload()
        loop = asyncio.get_running_loop()
        self._loaded = await loop.run_in_executor(self._executor, load_model, parsed)
        self._config = parsed

    async def unload(self) -> None:
        loaded, self._loaded, self._config = self._loaded, None, None
        if loaded is None:
            return
        # on the worker thread: after any batch still running, which holds the weights
        await asyncio.get_running_loop().run_in_executor(self._executor, loaded.release)

    async def generate(self, batch: list[GenerationRequest]) -> list[GenerationResult]:
        if self._loaded is None:
            raise RuntimeError("no model is loaded: call load() first")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in batch]
        self._pending.extend(zip(batch, futures, strict=True))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain(), name="vlmhb-transformers-batches")
        return list(await asyncio.gather(*futures))

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            loaded, config = self._loaded, self._config
            size = config.max_batch_size if config else len(self._pending)
            taken, self._pending = self._pending[:size], self._pending[size:]
            if loaded is None or config is None:
                results = [_error(r.request_id, "the model was unloaded") for r, _ in taken]
            else:
                self.batch_sizes.append(len(taken))
                del self.batch_sizes[:-1000]
                requests = [request for request, _ in taken]
                try:
                    results = await loop.run_in_executor(
                        self._executor, run_requests, loaded, config, requests
                    )
                except Exception as exc:  # run_requests catches per request; this is a bug guard
                    results = [_error(r.request_id, f"generation failed: {exc}") for r in requests]
            for (_, future), result in zip(taken, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def info(self) -> dict[str, Any]:
        versions = {"vlmhb-transformers-adapter": _own_version()}
        loaded = self._loaded
        if loaded is not None:
            versions.update(loaded.versions)
        return {
            "backend": self.name,
            "loaded": loaded is not None,
            "model": self._config.model if self._config else None,
            "config": self._config.model_dump() if self._config else None,
            "device": str(loaded.device) if loaded else None,
            "dtype": str(loaded.dtype).removeprefix("torch.") if loaded else None,
            "threads": self._config.torch_threads() if self._config else None,
            "processor": loaded.processor_note if loaded else None,
            "structured_outputs": "xgrammar",
            "versions": versions,
        }


def _own_version() -> str | None:
    try:
        return importlib.metadata.version("vlmhb-transformers-adapter")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return None


def _error(request_id: str, message: str) -> GenerationResult:
    return GenerationResult(
        text="", finish_reason="error", error=f"request {request_id}: {message}"
    )
