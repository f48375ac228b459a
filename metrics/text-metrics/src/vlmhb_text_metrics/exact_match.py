"""Exact match after the shared normalisation, against one or several accepted answers."""

from __future__ import annotations

from collections.abc import Sequence

from ._inputs import accepted_at, check_pairs, text_at
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric


@metric("exact_match", "1")
def exact_match(
    predictions: Sequence[str], references: Sequence[str | Sequence[str]], **params: bool
) -> MetricResult:
    """1.0 for a sample whose normalised prediction equals any normalised accepted answer.

    No normalisation by default: pass e.g. ``lowercase=True, collapse_whitespace=True``.
    """
    check_pairs(predictions, references)
    options = options_from("exact_match", params)
    norm = normalizer(options)
    per_sample = []
    for i, (hyp, ref) in enumerate(zip(predictions, references, strict=True)):
        prediction = norm(text_at(hyp, "predictions", i))
        per_sample.append(float(any(norm(a) == prediction for a in accepted_at(ref, i))))
    value = sum(per_sample) / len(per_sample) if per_sample else 0.0
    return MetricResult(
        name="exact_match",
        version="1",
        value=value,
        per_sample=per_sample,
        details={"normalization": options.as_dict()},
        params=options.as_dict(),
    )
