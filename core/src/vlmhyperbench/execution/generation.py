"""What a chat completion says, read the same way for every backend.

The answer that is scored is the message's text with any reasoning taken out first: a
``reasoning_content`` (vLLM, DeepSeek) or ``reasoning`` (OpenRouter, some vLLM builds) field
is kept apart as it is, and with ``think_tags`` a ``<think>…</think>`` block is split off the
text. Scoring reasoning as part of the answer would punish a model for thinking aloud; scoring
an unclosed block would score half a thought, so that is a failed answer instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..registry.models import ReasoningSpec


class NotACompletion(ValueError):
    """The body is JSON but not a chat completion (no choices[0].message)."""


@dataclass
class Generation:
    text: str | None
    reasoning: str | None = None
    failed: str | None = None
    """Why the generation is not an answer (an unclosed think block), else None."""
    finish_reason: str | None = None
    response_model: str | None = None
    system_fingerprint: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def split_think(text: str, spec: ReasoningSpec) -> tuple[str, str | None, str | None]:
    """(answer, reasoning, failure) of a text that may hold a think block.

    A text that has the close tag but no open tag is a model whose chat template opened the
    block (DeepSeek-R1 style): what comes before the close tag is reasoning.
    """
    opened = text.find(spec.open_tag)
    closed = text.find(spec.close_tag, opened + len(spec.open_tag) if opened >= 0 else 0)
    if opened < 0 and closed < 0:
        return text, None, None
    if closed < 0:
        return (
            "",
            text[opened + len(spec.open_tag) :].strip(),
            (f"unclosed {spec.open_tag} block: the model stopped before answering"),
        )
    start = opened + len(spec.open_tag) if 0 <= opened < closed else 0
    reasoning = text[start:closed].strip()
    answer = (text[:opened] if 0 <= opened < closed else "") + text[closed + len(spec.close_tag) :]
    return answer.strip(), reasoning, None


def read_completion(payload: Any, spec: ReasoningSpec) -> Generation:
    """The generation of a chat completion body; raises NotACompletion."""
    try:
        choice = payload["choices"][0]
        message = choice["message"]
        text = message.get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise NotACompletion("not a chat completion (choices[0].message)") from exc
    if text is not None and not isinstance(text, str):
        raise NotACompletion(f"choices[0].message.content is {type(text).__name__}, not text")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, str) else None
    failed = None
    if spec.think_tags and text:
        text, inline, failed = split_think(text, spec)
        reasoning = "\n".join(r for r in (reasoning, inline) if r) or None
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    details = usage.get("completion_tokens_details")
    reasoning_tokens = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    return Generation(
        text=text,
        reasoning=reasoning,
        failed=failed,
        finish_reason=finish if isinstance(finish, str) else None,
        response_model=payload.get("model") if isinstance(payload.get("model"), str) else None,
        system_fingerprint=(
            payload.get("system_fingerprint")
            if isinstance(payload.get("system_fingerprint"), str)
            else None
        ),
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        reasoning_tokens=reasoning_tokens,
    )
