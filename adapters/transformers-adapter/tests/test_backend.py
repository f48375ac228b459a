"""The backend runs the tiny Qwen2-VL for real: prompts, images, batches, sampling, memory."""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import weakref
from pathlib import Path

import pytest
from conftest import png, request, user
from vlmhb_api_wrapper.backend import BACKENDS_ENTRY_POINT_GROUP, Backend, ChatMessage, ImagePart
from vlmhb_transformers_adapter import TransformersBackend

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


async def test_text_only(loaded_backend: TransformersBackend) -> None:
    [result] = await loaded_backend.generate([request("t", user("Напиши Фамилия"), max_tokens=8)])
    assert result.error is None and result.text
    assert result.prompt_tokens > 5
    assert 1 <= result.completion_tokens <= 8
    assert result.finish_reason in ("stop", "length")


async def test_images_become_image_tokens(loaded_backend: TransformersBackend) -> None:
    """One and two images per message: each adds its grid of image tokens to the prompt."""
    text, one, two = await loaded_backend.generate(
        [
            request("text", user("Опиши"), max_tokens=4),
            request("one", user(png(RED), "Опиши"), max_tokens=4),
            request("two", user(png(GREEN), "и", png(BLUE, (60, 200)), "Опиши"), max_tokens=4),
        ]
    )
    assert [r.error for r in (text, one, two)] == [None, None, None]
    # 120x80 -> a 6x8 patch grid merged 2x2: 12 image tokens plus <vision_start/end>
    assert one.prompt_tokens - text.prompt_tokens == 12 + 2
    assert two.prompt_tokens - one.prompt_tokens > 12  # a second, taller image and "и"


async def test_a_system_message_and_a_conversation(loaded_backend: TransformersBackend) -> None:
    system = ChatMessage.model_validate(
        {"role": "system", "content": [{"type": "text", "text": "Отвечай кратко."}]}
    )
    assistant = ChatMessage.model_validate(
        {"role": "assistant", "content": [{"type": "text", "text": "Иванов"}]}
    )
    [result] = await loaded_backend.generate(
        [request("c", system, user(png(RED), "Фамилия?"), assistant, user("Имя?"), max_tokens=3)]
    )
    assert result.error is None and result.completion_tokens >= 1


async def test_concurrent_requests_share_generate_calls(
    loaded_backend: TransformersBackend,
) -> None:
    before = len(loaded_backend.batch_sizes)
    calls = [
        loaded_backend.generate([request(f"r{i}", user(f"вопрос {i}", png(RED)), max_tokens=3)])
        for i in range(6)
    ]
    results = await asyncio.gather(*calls)
    assert all(r[0].error is None for r in results)
    sizes = loaded_backend.batch_sizes[before:]
    assert sum(sizes) == 6 and len(sizes) < 6  # later arrivals joined a later batch


async def test_batched_answers_equal_single_answers(loaded_backend: TransformersBackend) -> None:
    """Greedy answers do not depend on the batch a request lands in (left padding)."""
    asks = [user("Напиши Имя"), user(png(GREEN), "Дата рождения?"), user("ИНН")]
    alone = [
        (await loaded_backend.generate([request(str(i), ask, max_tokens=6, temperature=0)]))[0]
        for i, ask in enumerate(asks)
    ]
    together = await loaded_backend.generate(
        [request(str(i), ask, max_tokens=6, temperature=0) for i, ask in enumerate(asks)]
    )
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.prompt_tokens for r in together] == [r.prompt_tokens for r in alone]


async def test_max_tokens_is_honoured_per_request(loaded_backend: TransformersBackend) -> None:
    short, long = await loaded_backend.generate(
        [
            request("short", user("Расскажи"), max_tokens=2, temperature=1.0, seed=1),
            request("long", user("Расскажи"), max_tokens=12, temperature=1.0, seed=1),
        ]
    )
    assert short.completion_tokens <= 2 and long.completion_tokens <= 12
    if short.finish_reason == "length":
        assert short.completion_tokens == 2


async def test_seed_reproducibility(loaded_backend: TransformersBackend) -> None:
    """A seeded sampled request answers the same, alone or beside others."""
    ask = user(png(RED), "Напиши Фамилия")

    def seeded(seed: int, rid: str = "s"):
        return request(rid, ask, max_tokens=12, temperature=1.0, top_p=0.95, seed=seed)

    [first] = await loaded_backend.generate([seeded(7)])
    [again] = await loaded_backend.generate([seeded(7)])
    _, in_batch, _ = await loaded_backend.generate(
        [seeded(1, "x"), seeded(7), request("y", user("ИНН"), max_tokens=3)]
    )
    others = await loaded_backend.generate([seeded(seed) for seed in (8, 9, 10)])
    assert first.text == again.text == in_batch.text
    assert any(r.text != first.text for r in others)


async def test_a_bad_request_fails_alone(loaded_backend: TransformersBackend) -> None:
    broken = ChatMessage(role="user", content=[ImagePart(data=b"\x00garbage")])
    results = await loaded_backend.generate(
        [
            request("ok", user("fine"), max_tokens=2),
            request("bad-image", broken),
            request("too-many", user(*[png(RED, (28, 28))] * 9)),
            request("bad-format", user("x"), response_format={"type": "yaml"}),
            request(
                "bad-schema",
                user("x"),
                response_format={"type": "json_schema", "json_schema": {"schema": "nope"}},
            ),
        ]
    )
    assert results[0].error is None and results[0].completion_tokens >= 1
    assert "bad-image" in results[1].error and "messages[0].content[0]" in results[1].error
    assert "9 images" in results[2].error and "max_images_per_prompt=8" in results[2].error
    assert "response_format.type" in results[3].error
    assert "response_format.json_schema.schema" in results[4].error
    assert [r.finish_reason for r in results[1:]] == ["error"] * 4


async def test_info_reports_device_threads_and_versions(
    loaded_backend: TransformersBackend,
) -> None:
    info = loaded_backend.info()
    assert info["loaded"] is True and info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["threads"] >= 1 and info["structured_outputs"] == "xgrammar"
    assert {"transformers", "torch", "xgrammar", "vlmhb-transformers-adapter"} <= set(
        info["versions"]
    )


async def test_unload_frees_the_model_and_reload_works(tiny_model: Path) -> None:
    backend = TransformersBackend()
    await backend.load({"model": str(tiny_model), "device": "cpu"})
    model_ref = weakref.ref(backend._loaded.model)
    [before] = await backend.generate([request("a", user("Имя"), max_tokens=4, temperature=0)])
    await backend.unload()
    gc.collect()
    assert model_ref() is None, "the weights are still referenced after unload()"
    assert backend.info()["loaded"] is False
    with pytest.raises(RuntimeError, match="no model is loaded"):
        await backend.generate([request("b", user("Имя"))])

    await backend.load({"model": str(tiny_model), "device": "cpu", "dtype": "bfloat16"})
    assert backend.info()["dtype"] == "bfloat16"
    await backend.load({"model": str(tiny_model), "device": "cpu"})  # a load replaces a load
    [after] = await backend.generate([request("a", user("Имя"), max_tokens=4, temperature=0)])
    assert after.text == before.text  # same weights, greedy: same answer
    await backend.unload()


def test_registered_as_the_transformers_backend() -> None:
    found = {
        ep.name: ep for ep in importlib.metadata.entry_points(group=BACKENDS_ENTRY_POINT_GROUP)
    }
    backend = found["transformers"].load()()
    assert isinstance(backend, TransformersBackend) and isinstance(backend, Backend)
    assert backend.name == "transformers" and backend.supports_batching is True
    assert backend.default_config()["model"]
