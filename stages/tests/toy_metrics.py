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
