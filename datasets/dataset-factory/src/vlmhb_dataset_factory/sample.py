"""The one sample shape every iterator yields, so the core never sees a layout's quirks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Sample(BaseModel):
    """One question (or one document) to send to a model, with what it should answer.

    ``images`` are absolute paths so a sample stays valid wherever it is passed on (a stage in
    another process, a JSON line in ``samples.jsonl``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Unique within the dataset.")
    images: list[str] = Field(min_length=1, description="Absolute paths of the sample's images.")
    prompt_vars: dict[str, str] = Field(
        default_factory=dict, description="Variables for the prompt template, e.g. question."
    )
    reference: str | list[str] | None = Field(
        default=None,
        description="Expected text answer, or the list of accepted answers (DocVQA, TextVQA): "
        "the text metrics score against the best-matching one.",
    )
    label: str | None = Field(default=None, description="Expected class label.")
    fields: dict[str, Any] | None = Field(default=None, description="Expected JSON (extraction).")
    doc_class: str | None = None
    question_type: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("images")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        for image in value:
            if not Path(image).is_absolute():
                raise ValueError(f"expected an absolute image path, got {image!r}")
        return value

    @field_validator("reference", mode="before")
    @classmethod
    def _accepted_answers(cls, value: Any) -> Any:
        # Checked here, in one message, rather than by the union: its errors would name the
        # column "reference.str" and "reference.list[str]".
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("Input should be a valid string or a list of strings")
        if not value:
            # An empty list would leave "the best of the accepted answers" undefined.
            raise ValueError("expected at least one accepted answer, got an empty list")
        return value

    def has_reference(self) -> bool:
        """Whether there is anything to score an answer against."""
        return self.reference is not None or self.label is not None or self.fields is not None
