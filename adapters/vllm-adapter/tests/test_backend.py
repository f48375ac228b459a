"""The backend hands whole batches to the engine and assembles one result per request.

The engine is ``FakeAsyncEngine`` (see conftest): a test double for vLLM's GPU engine.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest
from conftest import RecordedConstraint, png, request, user
from vlmhb_api_wrapper.backend import BACKENDS_ENTRY_POINT_GROUP, Backend, ChatMessage, ImagePart
from vlmhb_vllm_adapter import ConfigError, EngineUnavailable, VllmBackend

RED, GREEN = (255, 0, 0), (0, 255, 0)
CONFIG = {"model": "/models/tiny-qwen2-vl", "limit_mm_per_prompt": {"image": 2}}


async def test_whole_batch_is_in_the_engine_at_once(make_loader) -> None:
    loader, engines = make_loader(expect_concurrent=8, answer_tokens=4)
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    batch = [request(f"r{i}", user(f"question {i}", png(RED))) for i in range(8)]

    results = await backend.generate(batch)

    engine = engines[0]
    assert engine.max_in_flight == 8  # a sequential backend would time out in the fake
    assert len(engine.submitted) == 8
    assert [r.error for r in results] == [None] * 8
    assert [r.text for r in results] == ["w0 w1 w2 w3"] * 8
    assert all(r.completion_tokens == 4 and r.finish_reason == "stop" for r in results)
    # usage comes from the engine's token ids: the fake gives one id per prompt word
    prompts = {rid.rsplit("-", 1)[0]: p["prompt"] for p, _, rid in engine.submitted}
    assert results[3].prompt_tokens == len(prompts["r3"].split())


async def test_results_keep_the_batch_order(make_loader) -> None:
    loader, _ = make_loader(expect_concurrent=3)
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    results = await backend.generate(
        [request("a", user("one")), request("b", user("two words")), request("c", user("3 4 5"))]
    )
    # the fake's prompt ids grow with the prompt, so the order is visible in prompt_tokens
    assert results[0].prompt_tokens < results[1].prompt_tokens < results[2].prompt_tokens


async def test_prompt_and_images_reach_the_engine_in_order(make_loader) -> None:
    loader, engines = make_loader()
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    await backend.generate([request("r", user("left:", png(RED), "right:", png(GREEN)))])

    inputs, params, _ = engines[0].submitted[0]
    assert inputs["prompt"] == (
        "<|im_start|>user\nleft:<|vision_start|><|image_pad|><|vision_end|>right:"
        "<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n"
    )
    images = inputs["multi_modal_data"]["image"]
    assert [image.getpixel((0, 0)) for image in images] == [RED, GREEN]
    assert params.kwargs == {"max_tokens": 512}


async def test_single_image_and_text_only_inputs(make_loader) -> None:
    loader, engines = make_loader(expect_concurrent=2)
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    await backend.generate([request("one", user(png(RED), "?")), request("none", user("hi"))])
    by_id = {rid.rsplit("-", 1)[0]: inputs for inputs, _, rid in engines[0].submitted}
    assert by_id["one"]["multi_modal_data"]["image"].getpixel((0, 0)) == RED
    assert "multi_modal_data" not in by_id["none"]


async def test_response_format_and_sampling_reach_sampling_params(make_loader) -> None:
    loader, engines = make_loader()
    backend = VllmBackend(engine_loader=loader)
    await backend.load({**CONFIG, "default_max_tokens": 32})
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    await backend.generate(
        [
            request(
                "r",
                user("count"),
                temperature=0.0,
                seed=11,
                response_format={"type": "json_schema", "json_schema": {"schema": schema}},
            )
        ]
    )
    params = engines[0].submitted[0][1]
    assert params.kwargs["max_tokens"] == 32
    assert params.kwargs["temperature"] == 0.0
    assert params.kwargs["seed"] == 11
    constraint = params.kwargs["structured_outputs"]
    assert isinstance(constraint, RecordedConstraint)
    assert constraint.kwargs == {"json": schema}


async def test_a_bad_request_fails_alone(make_loader) -> None:
    loader, engines = make_loader(expect_concurrent=2, fail_on={"oom"})
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    broken = ChatMessage(role="user", content=[ImagePart(data=b"\x00garbage")])
    too_many = user(png(RED), png(RED), png(RED))
    results = await backend.generate(
        [
            request("ok", user("fine")),
            request("bad-image", broken),
            request("too-many", too_many),
            request("bad-format", user("x"), response_format={"type": "yaml"}),
            request("oom", user("boom")),
        ]
    )
    assert results[0].error is None and results[0].text
    assert "bad-image" in results[1].error and "messages[0].content[0]" in results[1].error
    assert "3 images" in results[2].error and "limit_mm_per_prompt.image=2" in results[2].error
    assert "response_format.type" in results[3].error
    assert "out of memory" in results[4].error
    assert [r.finish_reason for r in results[1:]] == ["error"] * 4
    # the requests refused before the engine never reached it
    assert sorted(rid.rsplit("-", 1)[0] for _, _, rid in engines[0].submitted) == ["ok", "oom"]


async def test_length_finish_reason(make_loader) -> None:
    loader, _ = make_loader(finish_reason="length")
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    [result] = await backend.generate([request("r", user("long"), max_tokens=3)])
    assert result.finish_reason == "length" and result.error is None


async def test_repeated_request_ids_get_distinct_engine_ids(make_loader) -> None:
    loader, engines = make_loader(expect_concurrent=2)
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    await backend.generate([request("same", user("a")), request("same", user("b"))])
    ids = [rid for _, _, rid in engines[0].submitted]
    assert len(set(ids)) == 2 and all(rid.startswith("same-") for rid in ids)


async def test_bad_config_fails_before_any_engine_starts(make_loader) -> None:
    loader, engines = make_loader()
    backend = VllmBackend(engine_loader=loader)
    with pytest.raises(ConfigError, match="gpu_memory_utilization"):
        await backend.load({"model": "m", "gpu_memory_utilization": 2})
    assert engines == []
    assert backend.info()["loaded"] is False


async def test_generate_before_load_is_refused() -> None:
    with pytest.raises(RuntimeError, match="no model is loaded"):
        await VllmBackend().generate([request("r", user("hi"))])


async def test_unload_shuts_the_engine_down_and_reload_replaces_it(make_loader) -> None:
    loader, engines = make_loader()
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    info = backend.info()
    assert info["loaded"] is True and info["model"] == CONFIG["model"]
    assert info["config"]["limit_mm_per_prompt"] == {"image": 2}
    assert info["versions"]["vllm"] == "fake"
    assert info["versions"]["vlmhb-vllm-adapter"]
    await backend.load({**CONFIG, "model": "/models/other"})
    assert engines[0].shut_down is True and engines[1].shut_down is False
    await backend.unload()
    assert engines[1].shut_down is True
    assert backend.info()["loaded"] is False and backend.info()["model"] is None


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
async def test_load_without_vllm_says_what_to_install() -> None:
    backend = VllmBackend()
    with pytest.raises(EngineUnavailable, match=r"vlmhb-vllm-adapter\[engine\]"):
        await backend.load(CONFIG)
    assert backend.info()["loaded"] is False


def test_registered_as_the_vllm_backend() -> None:
    found = {
        ep.name: ep for ep in importlib.metadata.entry_points(group=BACKENDS_ENTRY_POINT_GROUP)
    }
    backend = found["vllm"].load()()
    assert isinstance(backend, VllmBackend) and isinstance(backend, Backend)
    assert backend.name == "vllm" and backend.supports_batching is True
