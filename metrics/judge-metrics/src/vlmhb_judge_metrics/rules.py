"""Rule-based verdicts: what needs no judge, decided before any judge is asked.

A judge costs money and time and can be wrong; an answer equal to a reference (after the
normalisation every VLM benchmark applies: case, Unicode form, ``ё``/``е``, punctuation,
spacing) is correct and an empty answer is wrong without asking anyone. Only the rest, the
answers the rules cannot decide, go to the judges (unless ``judge_when="always"``).
"""

from __future__ import annotations

from collections.abc import Sequence

from vlmhb_statistics import normalize_answer

CORRECT, INCORRECT = "correct", "incorrect"


def references_of(reference: object) -> list[str]:
    """A sample's acceptable answers (one reference, or several as a list)."""
    if reference is None:
        return []
    if isinstance(reference, (list, tuple)):
        return [str(r) for r in reference if r is not None]
    return [str(reference)]


def rule_verdict(prediction: str | None, references: Sequence[str]) -> tuple[str, str] | None:
    """(verdict, rationale) when a rule decides, else None (the judges decide)."""
    if prediction is None or not prediction.strip():
        return INCORRECT, "rule: empty answer"
    answer = normalize_answer(prediction)
    for reference in references:
        if answer == normalize_answer(reference):
            return CORRECT, "rule: equals a reference after normalisation"
    return None
