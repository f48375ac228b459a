"""Requests become DeepSeek-VL2 conversations: roles, <image> placeholders, images in order."""

from __future__ import annotations

import json

import pytest
from conftest import message, png, request
from vlmhb_api_wrapper.backend import ChatMessage, ImagePart
from vlmhb_deepseek_adapter import RequestError, parse_config, prepare
from vlmhb_deepseek_adapter.runner import finish

RED, GREEN = (255, 0, 0), (0, 255, 0)
VL2 = parse_config({"model": "m", "default_max_tokens": 100, "system_prompt": "default"})
OCR = parse_config({"model": "m", "variant": "ocr"})


def test_conversation_in_deepseek_vl2_format() -> None:
    prepared = prepare(
        request(
            "r",
            message("system", "You read passports."),
            message("user", png(RED), "What is this?"),
            message("assistant", "A passport."),
            message("user", "Compare with", png(GREEN), "Напиши Фамилия"),
        ),
        VL2,
    )
    assert prepared.conversation == [
        {"role": "system", "content": "You read passports."},
        {"role": "<|User|>", "content": "<image>\nWhat is this?"},
        {"role": "<|Assistant|>", "content": "A passport."},
        {"role": "<|User|>", "content": "Compare with\n<image>\nНапиши Фамилия"},
        {"role": "<|Assistant|>", "content": ""},
    ]
    assert [image.getpixel((0, 0)) for image in prepared.images] == [RED, GREEN]
    assert prepared.prompt == "Compare with\n<image>\nНапиши Фамилия"


def test_config_system_prompt_when_the_request_has_none() -> None:
    conversation = prepare(request("r", message("user", "hi")), VL2).conversation
    assert conversation[0] == {"role": "system", "content": "default"}


def test_the_system_prompt_is_a_turn_the_processor_tokenises() -> None:
    """DeepSeek-VL2's processor builds input_ids from ``conversations`` alone (a first turn of
    role ``system`` is encoded right after BOS); its ``system_prompt`` argument feeds only the
    ``sft_format`` display string. So the system text must be in the conversation, once."""
    prepared = prepare(
        request("r", message("system", "Answer in Russian."), message("user", "hi")), VL2
    )
    turns = [turn["content"] for turn in prepared.conversation]
    assert turns == ["Answer in Russian.", "hi", ""]
    assert not hasattr(prepared, "system_prompt")  # nothing left for the display-only argument


def test_no_system_turn_without_a_system_prompt() -> None:
    no_default = parse_config({"model": "m"})
    conversation = prepare(request("r", message("user", "hi")), no_default).conversation
    assert [turn["role"] for turn in conversation] == ["<|User|>", "<|Assistant|>"]


def test_sampling_settings() -> None:
    greedy = prepare(request("g", message("user", "hi"), temperature=0.0), VL2).settings
    assert greedy.generate_kwargs() == {"max_new_tokens": 100, "do_sample": False}
    sampled = prepare(
        request("s", message("user", "hi"), temperature=0.7, top_p=0.9, max_tokens=20, seed=5),
        parse_config({"model": "m", "repetition_penalty": 1.1}),
    ).settings
    assert sampled.generate_kwargs() == {
        "max_new_tokens": 20,
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.9,
        "repetition_penalty": 1.1,
    }
    assert sampled.seed == 5


def test_json_schema_is_asked_for_in_the_last_user_turn() -> None:
    schema = {"type": "object", "properties": {"Фамилия": {"type": "string"}}}
    prepared = prepare(
        request(
            "r",
            message("user", png(RED), "Извлеки поля"),
            response_format={"type": "json_schema", "json_schema": {"schema": schema}},
        ),
        VL2,
    )
    last_user = prepared.conversation[-2]["content"]
    assert last_user.startswith("<image>\nИзвлеки поля\n")
    assert json.dumps(schema, ensure_ascii=False) in last_user
    assert prepared.notes == ["response_format given as an instruction (no constrained decoding)"]


@pytest.mark.parametrize(
    ("req", "config", "expected"),
    [
        (request("r", message("assistant", "hi")), VL2, "last message must be from the user"),
        (request("r", message("system", png(RED))), VL2, r"messages\[0\]: a system message"),
        (
            request(
                "r", message("user", "a"), message("assistant", png(RED)), message("user", "b")
            ),
            VL2,
            r"messages\[1\]\.content\[0\]",
        ),
        (
            request("r", message("user", "x"), response_format={"type": "yaml"}),
            VL2,
            "response_format.type",
        ),
        (request("r", message("user", png(RED), png(GREEN))), OCR, "exactly one image"),
        (request("r", message("user", "no image")), OCR, "got 0"),
    ],
)
def test_requests_that_cannot_run_say_why(req, config, expected: str) -> None:
    with pytest.raises(RequestError, match=expected):
        prepare(req, config)


def test_undecodable_image_names_its_place() -> None:
    broken = ChatMessage(role="user", content=[ImagePart(data=b"nope", mime_type="image/jpeg")])
    with pytest.raises(RequestError, match=r"messages\[1\]\.content\[0\].*image/jpeg"):
        prepare(request("r", message("user", "hi"), broken), VL2)


def test_ocr_prompt_keeps_the_placeholder_first() -> None:
    prepared = prepare(request("r", message("user", png(RED), "Convert to markdown.")), OCR)
    assert prepared.prompt == "<image>\nConvert to markdown."
    assert len(prepared.images) == 1


def test_finish_reason_from_generated_ids() -> None:
    assert finish([5, 6, 2], "ab", 10, eos_id=2, max_new=3).finish_reason == "stop"
    cut = finish([5, 6, 7], " ab ", 10, eos_id=2, max_new=3)
    assert (cut.finish_reason, cut.text, cut.completion_tokens, cut.prompt_tokens) == (
        "length",
        "ab",
        3,
        10,
    )
    assert finish([5], "a", 1, eos_id=2, max_new=3).finish_reason == "stop"
