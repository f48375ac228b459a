"""A metric written the way metric packages write theirs (``f(predictions, references)``
returning value, per-sample values, name, version), for the eval script to load by
``callable``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    value: float
    per_sample: list[float]
    name: str = "exact"
    version: str = "1"
    details: dict = field(default_factory=dict)


def exact(predictions: list[str], references: list[str], **_: object) -> Result:
    scores = [
        float(p.strip().lower() == str(r).strip().lower())
        for p, r in zip(predictions, references, strict=True)
    ]
    return Result(sum(scores) / len(scores), scores)


def single_reference(predictions: list[str], references: list[object], **_: object) -> Result:
    """Refuses lists of accepted answers, as CER/WER did before they took the closest one."""
    for i, reference in enumerate(references):
        if not isinstance(reference, str):
            raise ValueError(f"references[{i}] is {type(reference).__name__}; expected a string")
    return exact(predictions, references)  # type: ignore[arg-type]
