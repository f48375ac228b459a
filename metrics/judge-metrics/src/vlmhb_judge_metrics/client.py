"""Asking one judge through the official ``openai`` client, and reading its verdict.

A judge is any OpenAI-compatible endpoint with its own key (never the model under test's):
the spec carries where the key is read from, not the key. The rubric asks for a JSON object
``{"verdict": "correct" | "incorrect", "rationale": "..."}``; judges that answer in prose
are read by their first verdict word, and an answer with neither is ``unparsed`` (counted
and shown, scored as not correct) rather than guessed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import CORRECT, INCORRECT

UNPARSED = "unparsed"
_THINK = re.compile(r"<think>.*?</think>", re.S)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.M)
_WORD = re.compile(r"\b(incorrect|correct)\b", re.I)


class JudgeError(RuntimeError):
    """A judge cannot be asked (no key, unreachable, refused): the message names the judge."""


@dataclass(frozen=True)
class JudgeSpec:
    """One judge: a model entry's endpoint as the core resolves it (no key in it)."""

    name: str
    base_url: str
    model: str
    snapshot: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 120.0
    generation: dict[str, Any] = field(default_factory=dict)
    max_concurrency: int = 4

    @classmethod
    def from_params(cls, data: dict[str, Any]) -> JudgeSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown or "name" not in data or "base_url" not in data or "model" not in data:
            raise ValueError(
                f"judge {data.get('name', '?')!r}: expected name, base_url, model and optional "
                f"{', '.join(sorted(known - {'name', 'base_url', 'model'}))}; got {sorted(data)}"
            )
        return cls(**data)

    @property
    def identity(self) -> dict[str, Any]:
        """What decides its verdicts: where, which model and snapshot, how it generates."""
        return {
            "base_url": self.base_url.rstrip("/"),
            "model": self.model,
            "snapshot": self.snapshot,
            "generation": self.generation,
        }

    def key(self) -> str:
        """The key, read now from its source; a judge with no source sends a dummy one."""
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "").strip()
            if not key:
                raise JudgeError(
                    f"judge {self.name!r}: the environment variable {self.api_key_env} "
                    "(its api_key_env) is not set or empty"
                )
            return key
        if self.api_key_file:
            try:
                return Path(os.path.expanduser(self.api_key_file)).read_text("utf-8").strip()
            except OSError as exc:
                raise JudgeError(
                    f"judge {self.name!r}: cannot read its api_key_file: {exc.strerror}"
                ) from None
        return "no-key"  # the openai client needs one; an endpoint without auth ignores it


def parse_verdict(text: str | None) -> tuple[str, str]:
    """(verdict, rationale) from a judge's reply; ``unparsed`` when it says neither."""
    reply = _THINK.sub("", text or "").strip()
    body = _FENCE.sub("", reply).strip()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and str(data.get("verdict", "")).lower() in (CORRECT, INCORRECT):
        return str(data["verdict"]).lower(), str(data.get("rationale") or "").strip()
    found = _WORD.search(reply)
    if found:
        return found.group(1).lower(), reply
    return UNPARSED, reply


class JudgeClient:
    """One judge's client (the official openai client: its retries, timeouts, headers)."""

    def __init__(self, spec: JudgeSpec) -> None:
        import openai

        self.spec = spec
        self._openai = openai
        self.client = openai.OpenAI(
            base_url=spec.base_url,
            api_key=spec.key(),
            default_headers=spec.headers or None,
            timeout=spec.timeout_s,
            max_retries=4,
        )

    def ask(self, messages: list[dict[str, Any]]) -> tuple[str, str]:
        params = {"temperature": 0, **self.spec.generation}
        try:
            completion = self.client.chat.completions.create(
                model=self.spec.model, messages=messages, **params
            )
        except self._openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            where = f"judge {self.spec.name!r} at {self.spec.base_url}"
            raise JudgeError(
                f"{where} failed{f' (HTTP {status})' if status else ''}: {type(exc).__name__}"
            ) from None
        choice = completion.choices[0] if completion.choices else None
        return parse_verdict(choice.message.content if choice else None)
