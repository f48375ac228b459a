"""The real model on a GPU. Needs the engine extra, CUDA and a local DeepSeek-VL2 checkpoint.

No hub is reachable from the GPU machines, and no tiny DeepSeek-VL2 can be built offline
(its model code is not in transformers), so the checkpoint folder is given by
``VLMHB_DEEPSEEK_VL2`` (e.g. a copy of deepseek-ai/deepseek-vl2-tiny); skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
from conftest import message, png, request


def _why_not_here() -> str | None:
    if (
        importlib.util.find_spec("torch") is None
        or importlib.util.find_spec("deepseek_vl2") is None
    ):
        return "torch / deepseek_vl2 not installed (vlmhb-deepseek-adapter[engine])"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device"
    if not os.environ.get("VLMHB_DEEPSEEK_VL2"):
        return "VLMHB_DEEPSEEK_VL2 (a local DeepSeek-VL2 checkpoint folder) is not set"
    return None


REASON = _why_not_here()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


async def test_deepseek_vl2_answers_a_batch() -> None:
    from vlmhb_deepseek_adapter import DeepseekBackend

    backend = DeepseekBackend()
    await backend.load({"model": os.environ["VLMHB_DEEPSEEK_VL2"], "default_max_tokens": 16})
    try:
        batch = [
            request("img", message("user", png((255, 0, 0), (64, 64)), "What colour is it?")),
            request("text", message("user", "Say hello."), max_tokens=4),
        ]
        results = await backend.generate(batch)
        assert [r.error for r in results] == [None, None]
        assert all(r.text for r in results)
        assert 1 <= results[1].completion_tokens <= 4
        assert results[0].prompt_tokens > results[1].prompt_tokens  # image tokens counted
    finally:
        await backend.unload()


def test_the_system_prompt_reaches_the_input_ids() -> None:
    """The real processor on the prepared conversation: the system text is in the tokens."""
    from vlmhb_deepseek_adapter import parse_config, prepare
    from vlmhb_deepseek_adapter.runner import _patch_collections

    _patch_collections()
    from deepseek_vl2.models import DeepseekVLV2Processor

    processor = DeepseekVLV2Processor.from_pretrained(os.environ["VLMHB_DEEPSEEK_VL2"])
    config = parse_config({"model": os.environ["VLMHB_DEEPSEEK_VL2"]})
    prepared = prepare(
        request("r", message("system", "Answer in Russian."), message("user", "Say hello.")),
        config,
    )
    inputs = processor(conversations=prepared.conversation, images=[], force_batchify=True)
    text = processor.tokenizer.decode(inputs.input_ids[0].tolist())
    assert "Answer in Russian." in text and text.index("Answer") < text.index("<|User|>")
