"""Turning the wrapper's requests into what vLLM consumes, without importing vLLM.

Kept apart from the engine so that every rule here (image order, placeholders, structured
output, sampling defaults) is tested on machines without a GPU.
"""

from __future__ import annotations

from typing import Any

from vlmhb_api_wrapper.backend import GenerationRequest
from vlmhb_api_wrapper.chat_inputs import (  # the rules every chat-template backend shares
    RequestError,
    StructuredOutput,
    count_images,
    decode_images,
    structured_output,
    to_chat_messages,
)

__all__ = [
    "RequestError",
    "StructuredOutput",
    "count_images",
    "decode_images",
    "sampling_settings",
    "structured_output",
    "to_chat_messages",
]


def sampling_settings(request: GenerationRequest, default_max_tokens: int) -> dict[str, Any]:
    """SamplingParams keyword arguments: what the request set, vLLM's defaults for the rest.

    ``max_tokens`` always gets a value, since vLLM's own default (16) truncates most answers.
    """
    settings: dict[str, Any] = {"max_tokens": request.max_tokens or default_max_tokens}
    if request.temperature is not None:
        settings["temperature"] = request.temperature
    if request.top_p is not None:
        settings["top_p"] = request.top_p
    if request.seed is not None:
        settings["seed"] = request.seed
    return settings
