"""Chat requests turned into what image-text-to-text engines consume, shared by backends.

Every backend that renders a Hugging Face chat template (vLLM, transformers...) needs the same
rules: text-only messages as plain strings, image placeholders where the user put the images,
images decoded in placeholder order, ``response_format`` read as a decoding constraint. Kept
here, next to the request types, so the backends apply one set of rules and plain errors.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from .backend import ChatMessage, ImagePart, TextPart


class RequestError(ValueError):
    """One request that cannot be run; the message names the message / part / field at fault."""


@dataclass(frozen=True)
class StructuredOutput:
    """What the answer must conform to: a JSON Schema, or any JSON object."""

    kind: Literal["json_schema", "json_object"]
    schema: dict[str, Any] | None = None


def to_chat_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Messages in the Hugging Face chat-template format, images as placeholders in place.

    A message with only text is given as a plain string, since many models' templates
    (text-only branches of Qwen's among them) expect one; a message with images keeps its
    parts in order, so each ``{"type": "image"}`` lands where the user put the image.
    """
    converted: list[dict[str, Any]] = []
    for message in messages:
        if not message.images():
            converted.append({"role": message.role, "content": message.text()})
            continue
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            else:
                parts.append({"type": "image"})
        converted.append({"role": message.role, "content": parts})
    return converted


def decode_images(messages: list[ChatMessage]) -> list[Image.Image]:
    """Every image of the conversation, decoded to RGB, in the order the placeholders appear."""
    images: list[Image.Image] = []
    for m_index, message in enumerate(messages):
        for p_index, part in enumerate(message.content):
            if isinstance(part, ImagePart):
                images.append(_decode(part, f"messages[{m_index}].content[{p_index}]"))
    return images


def _decode(part: ImagePart, where: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(part.data)) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise RequestError(
            f"{where}: image ({part.mime_type}, {len(part.data)} bytes) does not decode: {exc}"
        ) from exc


def structured_output(response_format: dict[str, Any] | None) -> StructuredOutput | None:
    """The OpenAI ``response_format`` as a decoding constraint (None: free text)."""
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return StructuredOutput(kind="json_object")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise RequestError(
                "response_format.json_schema.schema: expected a JSON Schema object, got "
                f"{spec.get('schema') if isinstance(spec, dict) else spec!r}"
            )
        return StructuredOutput(kind="json_schema", schema=spec["schema"])
    raise RequestError(
        f"response_format.type: expected 'text', 'json_object' or 'json_schema', got {kind!r}"
    )


def count_images(messages: list[ChatMessage]) -> int:
    return sum(len(message.images()) for message in messages)
