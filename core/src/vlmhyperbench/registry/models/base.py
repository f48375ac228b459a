"""What every registry entry has, and the names shared across kinds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="Registry entry name.")]

OutputKind = Literal["text", "label", "json"]
Aggregator = Literal["general", "by_doc_type", "by_doc_question", "by_id"]


class Entry(BaseModel):
    """Fields every registry entry has."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form facts kept with the entry (e.g. where it was imported from); "
        "never used to compute results.",
    )
