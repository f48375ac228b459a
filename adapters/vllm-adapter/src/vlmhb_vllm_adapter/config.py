"""The model config of the vLLM backend: what a registry entry may say, checked before vLLM starts.

vLLM takes minutes to start and fails deep inside CUDA set-up when an argument is wrong, so
every engine argument a registry entry uses is validated here first, with an error naming
the field. Arguments this model does not list travel in ``engine_extra`` unchecked, so a
newer vLLM option never needs a release of this package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from vlmhb_api_wrapper.settings import DEFAULT_GPU_MEMORY_LIMIT_FRACTION

Dtype = Literal["auto", "half", "float16", "bfloat16", "float", "float32"]

#: The most of the GPU vLLM may reserve. vLLM takes ``gpu_memory_utilization`` of the whole
#: GPU at start and keeps it; the CUDA context, NVML's own reserve and any other process come
#: on top, and the wrapper's watchdog marks the server not ready once
#: ``DEFAULT_GPU_MEMORY_LIMIT_FRACTION`` (0.99) is used. This margin keeps the two apart.
MAX_GPU_MEMORY_UTILIZATION = round(DEFAULT_GPU_MEMORY_LIMIT_FRACTION - 0.04, 2)

#: Adapter-level keys: consumed here, never passed to vLLM's AsyncEngineArgs.
ADAPTER_KEYS = frozenset(
    {
        "chat_template",
        "default_max_tokens",
        "engine_extra",
        "engine_args",
        "structured_outputs_backend",
    }
)
StructuredOutputsBackend = Literal["guidance", "xgrammar", "outlines", "lm-format-enforcer", "auto"]


class ConfigError(ValueError):
    """A model config the backend cannot load: the message names each bad field."""


class VllmModelConfig(BaseModel):
    """Engine arguments (names as in vLLM's ``AsyncEngineArgs``) plus the adapter's own keys."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(min_length=1, description="Local folder of the weights, or a hub id.")
    tokenizer: str | None = Field(default=None, description="Default: the model's own.")
    revision: str | None = None
    dtype: Dtype = "auto"
    max_model_len: int | None = Field(default=None, gt=0)
    gpu_memory_utilization: float = Field(
        default=0.9,
        gt=0,
        description=f"Share of the GPU vLLM reserves, at most {MAX_GPU_MEMORY_UTILIZATION}.",
    )
    tensor_parallel_size: int = Field(default=1, ge=1)
    limit_mm_per_prompt: dict[str, int] = Field(
        default_factory=lambda: {"image": 1},
        description="Most items of each modality per prompt, e.g. {'image': 4}.",
    )
    trust_remote_code: bool = False
    seed: int | None = None
    max_num_seqs: int | None = Field(default=None, gt=0)
    enforce_eager: bool = False
    quantization: str | None = None
    download_dir: str | None = None
    mm_processor_kwargs: dict[str, Any] | None = None
    engine_extra: dict[str, Any] = Field(
        default_factory=dict, description="Further AsyncEngineArgs fields, passed unchecked."
    )
    chat_template: str | None = Field(
        default=None, description="Jinja chat template overriding the processor's own."
    )
    default_max_tokens: int = Field(
        default=512, gt=0, description="max_tokens of a request that sets none."
    )
    structured_outputs_backend: StructuredOutputsBackend = Field(
        default="guidance",
        description="vLLM's grammar engine for response_format. llguidance by default: "
        "xgrammar's JSON strings admit raw control characters (U+0000-U+001F), which JSON "
        "forbids, so a json_schema answer could fail a strict parser.",
    )

    @field_validator("model", "tokenizer")
    @classmethod
    def _local_paths_expanded(cls, value: str | None) -> str | None:
        """``~`` and ``$VARS`` expanded (registry entries say ``${VLMHB_WORKDIR}/models/...``,
        which vLLM would take literally, as a malformed hub id)."""
        if value is None:
            return None
        expanded = os.path.expandvars(os.path.expanduser(value))
        if "$" in expanded:
            raise ValueError(f"{value!r}: an environment variable in it is not set")
        return expanded

    def local_folder_problem(self) -> str | None:
        """Why ``model`` cannot load, when it is a path (not a hub id) that is not a folder."""
        if self.model.startswith(("/", "./", "../")) and not Path(self.model).is_dir():
            return (
                f"vllm model config: field 'model': {self.model!r} is not a folder (the weights "
                "must be a local folder of a checkpoint)"
            )
        return None

    @field_validator("gpu_memory_utilization")
    @classmethod
    def _leaves_room_for_the_watchdog(cls, value: float) -> float:
        if value > MAX_GPU_MEMORY_UTILIZATION:
            raise ValueError(
                f"at most {MAX_GPU_MEMORY_UTILIZATION}: vLLM keeps that share of the GPU from "
                f"the start, and the wrapper's watchdog marks the server not ready once "
                f"{DEFAULT_GPU_MEMORY_LIMIT_FRACTION} of GPU memory is used (CUDA context and "
                "other processes come on top), so /ready would stay 503"
            )
        return value

    @model_validator(mode="after")
    def _limits_are_counts(self) -> VllmModelConfig:
        for modality, count in self.limit_mm_per_prompt.items():
            if count < 0:
                raise ValueError(
                    f"limit_mm_per_prompt.{modality}: expected a count >= 0, got {count}"
                )
        clash = set(self.engine_extra) & (set(type(self).model_fields) - ADAPTER_KEYS)
        if clash:
            raise ValueError(
                f"engine_extra repeats named fields {sorted(clash)}: set them at the top level"
            )
        return self

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AsyncEngineArgs``: what was set, plus ``engine_extra``."""
        kwargs = self.model_dump(exclude=set(ADAPTER_KEYS), exclude_none=True)
        kwargs["structured_outputs_config"] = {"backend": self.structured_outputs_backend}
        kwargs.update(self.engine_extra)  # a full structured_outputs_config there wins
        return kwargs


def parse_config(raw: dict[str, Any]) -> VllmModelConfig:
    """Validate a model config as the wrapper receives it.

    A registry entry keeps engine arguments either flat beside ``model`` or under an
    ``engine_args`` mapping; both shapes are accepted (the same key in both is an error,
    since one of them would silently lose).
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"vllm model config: expected a mapping, got {type(raw).__name__}")
    flat = {key: value for key, value in raw.items() if key != "engine_args"}
    nested = raw.get("engine_args") or {}
    if not isinstance(nested, dict):
        raise ConfigError("vllm model config: field 'engine_args': expected a mapping")
    both = sorted(set(flat) & set(nested))
    if both:
        raise ConfigError(f"vllm model config: {both} given both flat and under 'engine_args'")
    try:
        return VllmModelConfig.model_validate({**flat, **nested})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(config)"
        if error["type"] == "extra_forbidden":
            lines.append(
                f"field '{field}': not a known engine argument (check the spelling, or put "
                "a newer vLLM option under 'engine_extra')"
            )
            continue
        got = f" (got {error['input']!r})" if error["type"] != "missing" else ""
        lines.append(f"field '{field}': {error['msg']}{got}")
    return "vllm model config is invalid: " + "; ".join(lines)
