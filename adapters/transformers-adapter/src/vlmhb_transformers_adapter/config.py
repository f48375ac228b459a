"""The model config of the transformers backend, checked before any weights are read.

Loading a checkpoint takes seconds to minutes and fails deep inside transformers when a
setting is wrong, so every key a registry entry may use is validated here first, with an
error naming the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Device = Literal["auto", "cpu", "cuda"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]


class ConfigError(ValueError):
    """A model config the backend cannot load: the message names each bad field."""


def machine_threads() -> int:
    """CPUs this process may run on (cgroup / taskset aware), the ceiling for torch threads."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


class TransformersModelConfig(BaseModel):
    """What ``POST /v1/models/load`` (or a registry entry's ``model:``) may say."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(
        min_length=1,
        description="Local folder of the checkpoint; '~' and $VARIABLES are expanded.",
    )
    engine: Literal["transformers"] | None = Field(
        default=None,
        description="Set by registry entries of the hugging-face framework to pick this backend.",
    )
    name: str | None = Field(default=None, description="Served model id (the wrapper's).")
    device: Device = Field(default="auto", description="auto: cuda when available, else cpu.")
    dtype: Dtype = Field(
        default="auto", description="auto: bfloat16 on cuda when supported, float32 on cpu."
    )
    threads: int | None = Field(
        default=None, gt=0, description="torch intra-op threads; capped to the machine's CPUs."
    )
    max_batch_size: int = Field(
        default=8, gt=0, description="Most requests run in one generate() call."
    )
    default_max_tokens: int = Field(
        default=512, gt=0, description="max_tokens of a request that sets none."
    )
    max_images_per_prompt: int = Field(
        default=8, ge=0, description="A request with more images is refused alone."
    )
    chat_template: str | None = Field(
        default=None, description="Jinja chat template replacing the checkpoint's own."
    )
    trust_remote_code: bool = False
    attn_implementation: str | None = Field(
        default=None, description="e.g. sdpa, eager, flash_attention_2 (transformers' choice)."
    )
    processor_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Passed to the processor's from_pretrained (e.g. min_pixels, max_pixels).",
    )
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Further from_pretrained arguments, passed unchecked."
    )

    @field_validator("model")
    @classmethod
    def _local_folder(cls, value: str) -> str:
        expanded = os.path.expandvars(os.path.expanduser(value))
        if "$" in expanded:
            raise ValueError(f"{value!r}: an environment variable in it is not set")
        path = Path(expanded)
        if not path.is_dir():
            raise ValueError(f"{expanded!r} is not a folder (no model hub here: give a local path)")
        if not (path / "config.json").is_file():
            raise ValueError(f"{expanded!r} has no config.json: not a transformers checkpoint")
        return str(path.resolve())

    def torch_threads(self) -> int:
        return min(self.threads or machine_threads(), machine_threads())


def parse_config(raw: dict[str, Any]) -> TransformersModelConfig:
    """Validate a model config as the wrapper receives it.

    Registry entries may keep loading arguments flat beside ``model`` or under an
    ``engine_args`` mapping (the core merges those over ``model``); both shapes are accepted.
    """
    if not isinstance(raw, dict):
        raise ConfigError(
            f"transformers model config: expected a mapping, got {type(raw).__name__}"
        )
    flat = {key: value for key, value in raw.items() if key != "engine_args"}
    nested = raw.get("engine_args") or {}
    if not isinstance(nested, dict):
        raise ConfigError("transformers model config: field 'engine_args': expected a mapping")
    both = sorted(set(flat) & set(nested))
    if both:
        raise ConfigError(
            f"transformers model config: {both} given both flat and under 'engine_args'"
        )
    try:
        return TransformersModelConfig.model_validate({**flat, **nested})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(config)"
        if error["type"] == "extra_forbidden":
            lines.append(
                f"field '{field}': not a known setting (check the spelling, or put a "
                "from_pretrained argument under 'model_kwargs')"
            )
            continue
        got = f" (got {error['input']!r})" if error["type"] != "missing" else ""
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"field '{field}': {message}{got}")
    return "transformers model config is invalid: " + "; ".join(lines)
