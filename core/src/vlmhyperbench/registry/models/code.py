"""Entries that name code: packages (DependencySources) and frameworks."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from vlmhb_dependency_injector.sources import GitSource, LocalSource, PypiSource

from .base import Entry

# --- packages -------------------------------------------------------------------------------
# A package entry *is* a DependencySource (local / git / pypi), see vlmhb_dependency_injector.
PackageEntry = Annotated[LocalSource | GitSource | PypiSource, Field(discriminator="type")]


# --- frameworks -----------------------------------------------------------------------------
class SpecialisedAdapter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name_pattern: str | None = Field(
        default=None, description="Regular expression matched against model names."
    )
    engine: str | None = Field(
        default=None, description="Chosen when the model entry's `model.engine` equals this."
    )
    adapter: str = Field(description="Package entry name of the adapter.")
    backend: str

    @field_validator("model_name_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"expected a regular expression: {exc}") from exc
        return value


class FrameworkEntry(Entry):
    """A family of serving code (e.g. Hugging Face, vLLM): its default adapter and backend."""

    kind: Literal["wrapper", "openai-compatible"] = Field(
        default="wrapper",
        description="wrapper: the run starts the adapter's API wrapper; openai-compatible: the "
        "model entry's `endpoint` is used as it is (nothing started, no adapter).",
    )
    adapter: str | None = Field(
        default=None, description="Package entry name of the default adapter."
    )
    backend: str | None = Field(
        default=None, description="Backend name in the entry-point group vlmhyperbench.backends."
    )
    specialised: list[SpecialisedAdapter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _each_specialised_matches_something(self) -> FrameworkEntry:
        if self.kind == "wrapper" and (self.adapter is None or self.backend is None):
            raise ValueError("a wrapper framework needs an adapter and a backend")
        if self.kind == "openai-compatible" and (self.adapter or self.backend or self.specialised):
            raise ValueError(
                "an openai-compatible framework starts nothing: expected no adapter, backend "
                "or specialised"
            )
        for i, spec in enumerate(self.specialised):
            if spec.model_name_pattern is None and spec.engine is None:
                raise ValueError(f"specialised[{i}]: expected model_name_pattern or engine")
        return self
