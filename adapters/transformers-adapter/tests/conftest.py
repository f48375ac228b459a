"""Shared fixtures: the tiny random Qwen2-VL checkpoint, built once per session, and helpers.

Nothing here is a test double: the checkpoint is a real (tiny, random-weight) Qwen2-VL made
by ``scripts/make_tiny_qwen2vl.py`` of the repository, loaded by the real transformers.
``VLMHB_TINY_QWEN2VL`` may name an already built folder instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from vlmhb_api_wrapper.backend import ChatMessage, GenerationRequest, ImagePart, TextPart
from vlmhb_transformers_adapter import TransformersBackend

BUILDER = Path(__file__).resolve().parents[3] / "scripts" / "make_tiny_qwen2vl.py"


def build_tiny(out_dir: Path, seed: int = 0) -> None:
    """The tiny Qwen2-VL of ``scripts/make_tiny_qwen2vl.py``, random weights from ``seed``."""
    if not BUILDER.is_file():
        raise RuntimeError(
            f"{BUILDER} not found: run the tests from the monorepo, or set VLMHB_TINY_QWEN2VL "
            "to a checkpoint built with scripts/make_tiny_qwen2vl.py"
        )
    spec = importlib.util.spec_from_file_location("make_tiny_qwen2vl", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(out_dir, seed=seed)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("VLMHB_TINY_QWEN2VL")
    if given:
        return Path(given)
    out_dir = tmp_path_factory.mktemp("checkpoints") / "tiny-qwen2-vl"
    build_tiny(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def loaded_backend(tiny_model: Path):
    """One loaded backend shared by the read-only tests (loading once keeps the suite quick)."""
    backend = TransformersBackend()
    asyncio.run(backend.load({"model": str(tiny_model), "device": "cpu", "max_batch_size": 8}))
    yield backend
    asyncio.run(backend.unload())


def png(colour: tuple[int, int, int], size: tuple[int, int] = (120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def user(*parts: str | bytes) -> ChatMessage:
    content = [TextPart(text=p) if isinstance(p, str) else ImagePart(data=p) for p in parts]
    return ChatMessage(role="user", content=content)


def request(request_id: str, *messages: ChatMessage, **kwargs: Any) -> GenerationRequest:
    return GenerationRequest(request_id=request_id, messages=list(messages), **kwargs)


def schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
