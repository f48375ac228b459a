"""One BOS token at the start of a prompt, for checkpoints whose tokenizer adds one (issue 26).

The chat template already writes the BOS; the processor must then tokenise the rendered text
without adding special tokens, or Llama-, Gemma- and SmolVLM-based models see two (and answer
differently from vLLM, which tokenises chat prompts that way). Checked on the tiny random
Idefics3 of ``scripts/make_tiny_idefics3.py``, whose tokenizer adds a BOS.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
from conftest import png, request, user
from PIL import Image
from vlmhb_transformers_adapter import TransformersBackend

BUILDER = Path(__file__).resolve().parents[3] / "scripts" / "make_tiny_idefics3.py"


@pytest.fixture(scope="module")
def tiny_idefics3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("make_tiny_idefics3", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out_dir = tmp_path_factory.mktemp("checkpoints") / "tiny-idefics3"
    module.build(out_dir, seed=0)
    return out_dir


@pytest.mark.parametrize("with_image", [False, True], ids=["text", "image"])
async def test_the_prompt_starts_with_one_bos(tiny_idefics3: Path, with_image: bool) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_idefics3)
    tokenizer = processor.tokenizer
    chat = [{"role": "user", "content": [{"type": "text", "text": "Напиши Фамилия"}]}]
    if with_image:
        chat[0]["content"].insert(0, {"type": "image"})
    rendered = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert rendered.startswith(tokenizer.bos_token)  # the template writes it
    assert tokenizer(rendered).input_ids[:2] == [tokenizer.bos_token_id] * 2  # the trap
    images = [png((200, 30, 30))] if with_image else []
    pages = [[Image.open(io.BytesIO(images[0])).convert("RGB")]] if with_image else None
    expected = processor(text=[rendered], images=pages, add_special_tokens=False).input_ids[0]
    assert list(expected[:2]) != [tokenizer.bos_token_id] * 2

    backend = TransformersBackend()
    await backend.load({"model": str(tiny_idefics3), "device": "cpu", "dtype": "float32"})
    try:
        parts = [*images, "Напиши Фамилия"]
        (result,) = await backend.generate([request("r1", user(*parts), max_tokens=4)])
    finally:
        await backend.unload()
    assert result.error is None, result.error
    assert result.prompt_tokens == len(expected), (
        f"{result.prompt_tokens} prompt tokens, expected {len(expected)}: a second BOS was added"
    )
