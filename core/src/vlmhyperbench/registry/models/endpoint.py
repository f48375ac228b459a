"""What a model entry says about a hosted (OpenAI-compatible) endpoint, its limits and price.

A model of the ``openai-compatible`` framework is not started by the run: it is a URL, a
served model name and where its key is read from. The key itself never appears in a registry
file (a literal ``api_key`` is refused), so it cannot reach a result, a log or the dashboard
through the entry: only the *name* of an environment variable or a secret file's path does.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: Header names that carry credentials: they come from api_key_env / api_key_file only.
_SECRET_HEADERS = re.compile(r"^(authorization|proxy-authorization|api-key|x-api-key)$", re.I)


class EndpointSpec(BaseModel):
    """An OpenAI-compatible endpoint (``base_url`` as the openai client takes it)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    base_url: str = Field(
        description="The API root the openai client would be given, e.g. "
        "https://api.openai.com/v1 or http://gpu-box:8000/v1 (requests go to "
        "<base_url>/chat/completions, the check to <base_url>/models)."
    )
    model: str = Field(min_length=1, description="The served model name sent as `model`.")
    api_key_env: str | None = Field(
        default=None, pattern=ENV_NAME, description="Environment variable holding the key."
    )
    api_key_file: str | None = Field(
        default=None, description="File holding the key (e.g. a mounted secret)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers (no credentials)."
    )
    snapshot: str | None = Field(
        default=None,
        description="What the provider serves under this name today (a dated version, a "
        "checkpoint hash): hosted models change under one name, so it is part of the identity.",
    )
    timeout_s: float = Field(default=120.0, gt=0, description="Whole-request timeout.")

    @model_validator(mode="before")
    @classmethod
    def _no_literal_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "api_key: a key is never written in a registry file; name where it is read "
                "from with api_key_env (an environment variable) or api_key_file"
            )
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        if parts.username or parts.password:
            raise ValueError("expected no credentials in the URL; use api_key_env or api_key_file")
        return value.rstrip("/")

    @field_validator("headers")
    @classmethod
    def _no_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if _SECRET_HEADERS.match(name):
                raise ValueError(
                    f"header {name!r} carries a credential: it is sent from api_key_env or "
                    "api_key_file, never written in a registry file"
                )
        return value

    @property
    def identity(self) -> dict[str, Any]:
        """What decides the answers: where, which model, which snapshot (not the key's source,
        the headers or the timeout)."""
        return {"base_url": self.base_url, "model": self.model, "snapshot": self.snapshot}


class RateLimits(BaseModel):
    """What the provider allows; the runner stays under it and adapts to 429/503."""

    model_config = ConfigDict(extra="forbid")

    max_concurrency: int | None = Field(default=None, gt=0, description="Requests in flight.")
    rpm: float | None = Field(default=None, gt=0, description="Requests per minute.")
    tpm: float | None = Field(default=None, gt=0, description="Tokens (in + out) per minute.")


class Price(BaseModel):
    """USD per million tokens; reasoning tokens are billed as output."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float:
        return (
            (prompt_tokens or 0) * self.input_per_mtok
            + (completion_tokens or 0) * self.output_per_mtok
        ) / 1e6


class ReasoningSpec(BaseModel):
    """How a model shows its reasoning, so it is kept apart from the answer before scoring.

    A ``reasoning_content`` (or ``reasoning``) field of the message is always kept apart;
    ``think_tags`` also splits ``<think>…</think>`` out of the text (an unclosed block is a
    failed answer: the model never got to answer).
    """

    model_config = ConfigDict(extra="forbid")

    think_tags: bool = False
    open_tag: str = Field(default="<think>", min_length=1)
    close_tag: str = Field(default="</think>", min_length=1)
