"""Turning the wrapper's requests into what a transformers processor consumes.

Kept apart from torch and the model so that every rule here (image order, placeholders,
response_format, sampling defaults) is plain code with plain errors naming the request part.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "Sampling",
    "StructuredOutput",
    "count_images",
    "decode_images",
    "sampling_for",
    "structured_output",
    "to_chat_messages",
]


@dataclass(frozen=True)
class Sampling:
    """One request's decoding settings, resolved: temperature 0 means greedy."""

    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None


def sampling_for(
    request: GenerationRequest, default_max_tokens: int, checkpoint_defaults: Sampling
) -> Sampling:
    """What the request set, else the checkpoint's generation_config (as vLLM does).

    ``checkpoint_defaults`` carries the checkpoint's own temperature / top_p (temperature 0
    when its generation_config does not sample), so an unset field behaves as the model's
    authors intended rather than as an arbitrary library default.
    """
    return Sampling(
        max_tokens=request.max_tokens or default_max_tokens,
        temperature=(
            checkpoint_defaults.temperature if request.temperature is None else request.temperature
        ),
        top_p=checkpoint_defaults.top_p if request.top_p is None else request.top_p,
        seed=request.seed,
    )
