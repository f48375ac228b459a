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


def by_class(
    predictions: list[str],
    references: list[str],
    doc_class: list[str | None] | None = None,
    compat: str | None = None,
    **_: object,
) -> Result:
    """Needs each sample's doc_class (as OCRBench's score does); its variant ``"strict"``
    scores only samples of class ``passport``."""
    if doc_class is None:
        raise ValueError("doc_class not given")
    scores = [
        float(p == r and (compat is None or c == "passport"))
        for p, r, c in zip(predictions, references, doc_class, strict=True)
    ]
    return Result(sum(scores) / len(scores), scores)


by_class.sample_fields = ("doc_class",)  # type: ignore[attr-defined]
by_class.variants = ("strict",)  # type: ignore[attr-defined]


def graded(
    predictions: list[str], references: list[str], question: list[str] | None = None, **_: object
) -> Result:
    """Like a judge metric: per-sample text (verdict, rationale) and a report beside scores."""
    scores = [
        float(p.strip().lower() == str(r).strip().lower())
        for p, r in zip(predictions, references, strict=True)
    ]
    verdicts = ["correct" if s else "incorrect" for s in scores]
    rationales = [f"asked {q!r}" for q in (question or [""] * len(scores))]
    details = {
        "per_sample_text": {"verdict": verdicts, "rationale": rationales},
        "report": {"judged": len(scores)},
    }
    return Result(sum(scores) / len(scores), scores, name="graded", details=details)


graded.sample_fields = ("question",)  # type: ignore[attr-defined]
