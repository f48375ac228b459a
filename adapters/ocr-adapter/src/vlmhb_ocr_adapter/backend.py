"""The ``ocr`` backend: Tesseract or RapidOCR behind the wrapper's backend contract.

Everything CPU-bound (hashing and converting images, regrouping words, matching labels)
runs in worker threads, and tesseract in a child process, so the server's event loop keeps
answering ``/health`` whatever a request holds.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, ClassVar

from vlmhb_api_wrapper import GenerationRequest, GenerationResult, ImagePart

from vlmhb_ocr_adapter.cache import CacheKey, PageCache, page_key
from vlmhb_ocr_adapter.config import OcrConfig, parse_config
from vlmhb_ocr_adapter.engines import OcrEngine, RapidOcrEngine, TesseractEngine
from vlmhb_ocr_adapter.extraction import answer_pages
from vlmhb_ocr_adapter.layout import Row, group_rows

#: How usage is counted: OCR has no tokenizer, so tokens are whitespace-separated words.
TOKEN_UNIT = "whitespace-separated words"
#: The tesseract binary: a start-up setting, never part of a model config (a config comes
#: from any key holder, and naming a binary there let them run any program).
TESSERACT_CMD_ENV = "VLMHB_TESSERACT_CMD"


def count_tokens(text: str) -> int:
    return len(text.split())


class OcrBackend:
    """CPU OCR baseline: reads the request's images, answers from the recognised text."""

    name: ClassVar[str] = "ocr"
    supports_batching: ClassVar[bool] = False
    #: The wrapper validates each load's config against it before unloading the current one.
    config_model: ClassVar[type[OcrConfig]] = OcrConfig

    def __init__(self, tesseract_cmd: str | None = None) -> None:
        self.tesseract_cmd = tesseract_cmd or os.environ.get(TESSERACT_CMD_ENV) or "tesseract"
        self.config: OcrConfig | None = None
        self.engine: OcrEngine | None = None
        self._slots: asyncio.Semaphore | None = None
        #: Shared by every request (and kept across loads: keys include the engine settings).
        self.cache = PageCache()
        self._reading: dict[CacheKey, asyncio.Future[list[Row]]] = {}

    def default_config(self) -> dict[str, Any]:
        return {"languages": "rus+eng"}

    async def load(self, config: dict[str, Any]) -> None:
        parsed = parse_config(config)
        engine: OcrEngine
        if parsed.resolved_engine(self.tesseract_cmd) == "tesseract":
            tesseract = TesseractEngine(
                self.tesseract_cmd, parsed.languages, parsed.psm, parsed.page_timeout_s
            )
            await tesseract.check()
            engine = tesseract
        else:
            engine = await asyncio.to_thread(RapidOcrEngine)
        self.config, self.engine = parsed, engine
        self._slots = asyncio.Semaphore(parsed.max_concurrency)
        self.cache.resize(parsed.cache_pages, int(parsed.cache_mb * 1024 * 1024))

    async def unload(self) -> None:
        self.config, self.engine, self._slots = None, None, None
        self.cache.clear()

    async def _rows(
        self, engine: OcrEngine, slots: asyncio.Semaphore, image: ImagePart
    ) -> tuple[list[Row], bool]:
        """The page's rows, and whether they came from the cache (read before, by this run or
        an earlier one): from the cache, from a reading already under way, or read now.

        Concurrent questions about one page wait for a single reading instead of each
        starting their own; they waited for a real reading, so they are not cache hits.
        """
        key = await asyncio.to_thread(page_key, image.data, engine.settings_key())
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True
        pending = self._reading.get(key)
        if pending is not None:
            return list(await asyncio.shield(pending)), False
        reading: asyncio.Future[list[Row]] = asyncio.get_running_loop().create_future()
        self._reading[key] = reading
        try:
            async with slots:
                words = await engine.recognize(image.data, image.mime_type)
            rows = await asyncio.to_thread(group_rows, words)
            self.cache.put(key, rows)
            reading.set_result(rows)
            return list(rows), False
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                reading.cancel()
            else:
                reading.set_exception(exc)
                reading.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            self._reading.pop(key, None)

    async def _one(self, request: GenerationRequest) -> GenerationResult:
        engine, slots = self.engine, self._slots
        if engine is None or slots is None:
            raise RuntimeError("no OCR engine loaded")
        prompt = "\n".join(m.text() for m in request.messages if m.role != "assistant")
        prompt_tokens = count_tokens(prompt)
        images = [image for message in request.messages for image in message.images()]
        if not images:
            return GenerationResult(
                text="",
                prompt_tokens=prompt_tokens,
                finish_reason="error",
                error="no image in the request: the OCR backend answers about images only",
            )
        try:
            # pages side by side (up to max_concurrency), each from the cache when read before
            read = await asyncio.gather(*(self._rows(engine, slots, image) for image in images))
            pages = [rows for rows, _ in read]
            from_cache = all(hit for _, hit in read)
        except Exception as exc:
            return GenerationResult(
                text="",
                prompt_tokens=prompt_tokens,
                finish_reason="error",
                error=f"{engine.name} failed: {exc}",
            )
        try:
            text = await asyncio.to_thread(answer_pages, prompt, pages, request.response_format)
        except Exception as exc:  # a schema the rules cannot follow: this request fails alone
            return GenerationResult(
                text="",
                prompt_tokens=prompt_tokens,
                finish_reason="error",
                error=f"could not build the answer: {type(exc).__name__}: {exc}",
            )
        finish = "stop"
        is_json = (request.response_format or {}).get("type") in ("json_schema", "json_object")
        if (
            request.max_tokens is not None
            and not is_json
            and count_tokens(text) > request.max_tokens
        ):
            text, finish = " ".join(text.split()[: request.max_tokens]), "length"
        return GenerationResult(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=count_tokens(text),
            finish_reason=finish,
            cached=from_cache,
        )

    async def generate(self, batch: list[GenerationRequest]) -> list[GenerationResult]:
        if self.engine is None:
            raise RuntimeError("no OCR engine loaded")
        return list(await asyncio.gather(*(self._one(request) for request in batch)))

    def info(self) -> dict[str, Any]:
        details = self.engine.info() if self.engine is not None else {}
        return {
            **details,
            "model": self.config.served_name(self.tesseract_cmd) if self.config else None,
            "usage_unit": TOKEN_UNIT,
            "kind": "OCR baseline (not a VLM)",
            "pages_read": self.engine.pages_read if self.engine is not None else 0,
            "page_cache": self.cache.stats(),
        }
