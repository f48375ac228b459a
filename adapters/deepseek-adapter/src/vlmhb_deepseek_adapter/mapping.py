"""Turning the wrapper's requests into DeepSeek-VL2 conversations, without importing torch.

DeepSeek-VL2's processor takes a conversation whose turns have the roles ``<|User|>`` and
``<|Assistant|>``, with one ``<image>`` placeholder per image in the text, the images in the
same order. A system prompt is a first turn of role ``system``: the processor tokenises the
conversation only (``format_messages_v2``: BOS, the system turn's text, then the user and
assistant turns), while its ``system_prompt`` argument reaches nothing but ``sft_format``, a
display string, so a system prompt given there never reaches the model. DeepSeek-OCR takes
one image and one prompt.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError
from vlmhb_api_wrapper.backend import GenerationRequest, ImagePart, TextPart

from vlmhb_deepseek_adapter.config import DeepseekModelConfig

IMAGE_PLACEHOLDER = "<image>"
ROLES = {"user": "<|User|>", "assistant": "<|Assistant|>"}
SYSTEM_ROLE = "system"
"""The role of a first turn that the processor tokenises as the system prompt."""


class RequestError(ValueError):
    """One request that cannot be run; the message names the message / part at fault."""


@dataclass
class GenerationSettings:
    """Keyword arguments of ``generate`` (Hugging Face) that a request controls."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    repetition_penalty: float | None = None

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
        }
        if self.do_sample:
            kwargs["temperature"] = self.temperature
            if self.top_p is not None:
                kwargs["top_p"] = self.top_p
        if self.repetition_penalty is not None:
            kwargs["repetition_penalty"] = self.repetition_penalty
        return kwargs


@dataclass
class PreparedRequest:
    """Everything the model code needs for one request, already validated and decoded."""

    request_id: str
    conversation: list[dict[str, Any]]  # a system turn first when there is a system prompt
    images: list[Image.Image]
    settings: GenerationSettings
    prompt: str = ""  # the last user turn with its placeholders (what DeepSeek-OCR takes)
    notes: list[str] = field(default_factory=list)


def prepare(request: GenerationRequest, config: DeepseekModelConfig) -> PreparedRequest:
    """Validate and convert one request; raises RequestError naming what is wrong."""
    system_parts: list[str] = []
    conversation: list[dict[str, Any]] = []
    images: list[Image.Image] = []
    for m_index, message in enumerate(request.messages):
        if message.role == "system":
            if message.images():
                raise RequestError(f"messages[{m_index}]: a system message cannot hold images")
            system_parts.append(message.text())
            continue
        pieces: list[str] = []
        for p_index, part in enumerate(message.content):
            if isinstance(part, TextPart):
                pieces.append(part.text)
            elif message.role == "assistant":
                raise RequestError(
                    f"messages[{m_index}].content[{p_index}]: images belong to user messages"
                )
            else:
                images.append(_decode(part, f"messages[{m_index}].content[{p_index}]"))
                pieces.append(IMAGE_PLACEHOLDER)
        conversation.append({"role": ROLES[message.role], "content": "\n".join(pieces)})
    if not conversation or conversation[-1]["role"] != ROLES["user"]:
        raise RequestError("messages: the last message must be from the user")

    notes = []
    instruction = json_instruction(request.response_format)
    if instruction:
        conversation[-1]["content"] += "\n" + instruction
        notes.append("response_format given as an instruction (no constrained decoding)")
    last = conversation[-1]["content"]
    conversation.append({"role": ROLES["assistant"], "content": ""})
    system = "\n".join(system_parts) if system_parts else config.system_prompt
    if system.strip():
        conversation.insert(0, {"role": SYSTEM_ROLE, "content": system})

    if config.variant == "ocr" and len(images) != 1:
        raise RequestError(f"DeepSeek-OCR reads exactly one image per request, got {len(images)}")
    temperature = request.temperature
    return PreparedRequest(
        request_id=request.request_id,
        conversation=conversation,
        images=images,
        settings=GenerationSettings(
            max_new_tokens=request.max_tokens or config.default_max_tokens,
            do_sample=temperature is not None and temperature > 0,
            temperature=temperature,
            top_p=request.top_p,
            seed=request.seed,
            repetition_penalty=config.repetition_penalty,
        ),
        prompt=last,
        notes=notes,
    )


def json_instruction(response_format: dict[str, Any] | None) -> str | None:
    """DeepSeek's inference code has no guided decoding: the schema is asked for in words."""
    if response_format is None or response_format.get("type") in (None, "text"):
        return None
    kind = response_format["type"]
    if kind == "json_object":
        return "Answer with only a JSON object."
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise RequestError("response_format.json_schema.schema: expected a JSON Schema object")
        schema = json.dumps(spec["schema"], ensure_ascii=False)
        return f"Answer with only a JSON object that conforms to this JSON Schema: {schema}"
    raise RequestError(
        f"response_format.type: expected 'text', 'json_object' or 'json_schema', got {kind!r}"
    )


def _decode(part: ImagePart, where: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(part.data)) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise RequestError(
            f"{where}: image ({part.mime_type}, {len(part.data)} bytes) does not decode: {exc}"
        ) from exc
