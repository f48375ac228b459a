"""Entries that name code: packages (DependencySources) and frameworks."""

from __future__ import annotations

import re
from typing import Annotated

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

    adapter: str = Field(description="Package entry name of the default adapter.")
    backend: str = Field(
        description="Backend name in the entry-point group vlmhyperbench.backends."
    )
    specialised: list[SpecialisedAdapter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _each_specialised_matches_something(self) -> FrameworkEntry:
        for i, spec in enumerate(self.specialised):
            if spec.model_name_pattern is None and spec.engine is None:
                raise ValueError(f"specialised[{i}]: expected model_name_pattern or engine")
        return self
