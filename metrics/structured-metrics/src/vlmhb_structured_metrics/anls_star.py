"""ANLS* (Peer et al., 2024, arXiv:2402.03848): ANLS generalised to structured answers.

A score is a sum of leaf similarities over a *pairwise length*, both defined by recursion on
the reference:

- a string (number, boolean) leaf scores ``1 - NLD`` of the two texts, lower-cased with
  whitespace collapsed, or 0 below the threshold (0.5); length 1;
- ``null`` (an unanswerable field) scores 1 when the answer is empty (``null``, ``""``,
  ``[]``, ``{}``), else 0; length ``max(1, size of the answer)``;
- a list is matched to the answer's list by assignment (Hungarian, on the pairs' mean
  scores): matched pairs add their scores and lengths, unmatched items on either side add
  their size to the length (missing and hallucinated items both cost);
- an object adds, per key of either side, the pair's score and length (a missing key is
  answered by ``null``; a hallucinated key by a ``null`` reference);
- a type mismatch scores 0 over ``max(size, size)``.

The score is ``sum / length`` (1.0 when both are empty). Checked against the ``anls_star``
package on generated pairs (tests), including its counting of a hallucinated key whose value
is empty (length 1, score 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from scipy.optimize import linear_sum_assignment

from ._inputs import check_pairs, check_prediction, reference_object
from ._result import MetricResult, metric
from .fields import nanmean
from .parsing import parse_output


def _is_empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _size(value: Any) -> int:
    if isinstance(value, list):
        return sum(_size(v) for v in value)
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    return 1


def _text(value: Any) -> str:
    return " ".join(str(value).lower().split())


class _Scorer:
    """One threshold; ``pair(reference, answer) -> (score sum, pairwise length)``."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def pair(self, ref: Any, pred: Any) -> tuple[float, int]:
        if ref is None:
            return float(_is_empty(pred)), max(1, _size(pred))
        if isinstance(ref, list):
            if not isinstance(pred, list):
                return 0.0, max(_size(ref), _size(pred))
            return self._lists(ref, pred)
        if isinstance(ref, dict):
            if not isinstance(pred, dict):
                return 0.0, max(_size(ref), _size(pred))
            total, length = 0.0, 0
            for _, score, size in self.keys(ref, pred):
                total += score
                length += size
            return total, length
        if pred is None or isinstance(pred, (list, dict)):
            return 0.0, max(1, _size(pred))
        a, b = _text(ref), _text(pred)
        similarity = 1.0 - (Levenshtein.normalized_distance(a, b) if a or b else 0.0)
        return (similarity if similarity >= self.threshold else 0.0), 1

    def keys(self, ref: dict, pred: dict) -> list[tuple[str, float, int]]:
        """Per key (the reference's first, then hallucinated ones): score sum and length."""
        out = []
        for key in [*ref, *(k for k in pred if k not in ref)]:
            # an absent key answers null; a hallucinated key answers a null reference and
            # scores 0 over its size, even when empty (as the anls_star package counts it)
            score, size = self.pair(ref.get(key), pred.get(key))
            if key not in ref:
                score = 0.0
            out.append((str(key), score, size))
        return out

    def _lists(self, ref: list, pred: list) -> tuple[float, int]:
        if not ref or not pred:
            return 0.0, _size(ref) + _size(pred)
        pairs = [[self.pair(r, p) for p in pred] for r in ref]
        means = np.array(
            [
                [
                    (s / n if n else 1.0) + (1e-12 if r == p else 0.0)
                    for (s, n), p in zip(row, pred, strict=True)
                ]
                for row, r in zip(pairs, ref, strict=True)
            ]
        )
        rows, cols = linear_sum_assignment(means, maximize=True)
        total = sum(pairs[r][c][0] for r, c in zip(rows, cols, strict=True))
        length = sum(pairs[r][c][1] for r, c in zip(rows, cols, strict=True))
        length += sum(_size(ref[i]) for i in set(range(len(ref))) - set(rows))
        length += sum(_size(pred[j]) for j in set(range(len(pred))) - set(cols))
        return total, length


def anls_star_score(reference: Any, answer: Any, threshold: float = 0.5) -> float:
    """ANLS* of one decoded answer against one reference (1.0 when both are empty)."""
    total, length = _Scorer(threshold).pair(reference, answer)
    return total / length if length else 1.0


@metric("anls_star", "1")
def anls_star(
    predictions: Sequence[Any], references: Sequence[Any], *, threshold: float = 0.5
) -> MetricResult:
    """Mean ANLS* over samples; per top-level field in ``details["per_field"]``.

    An answer that does not decode to JSON is scored as ``null`` (0 against any non-empty
    reference) and counted in ``details["unparsable"]``.
    """
    if not isinstance(threshold, (int, float)) or not 0.0 < threshold <= 1.0:
        raise ValueError(f"anls_star: threshold must be a number in (0, 1], got {threshold!r}")
    check_pairs(predictions, references)
    scorer = _Scorer(float(threshold))
    per_sample: list[float] = []
    vectors: dict[str, list[float]] = {}
    unparsable = 0
    for i, (raw, ref) in enumerate(zip(predictions, references, strict=True)):
        check_prediction(raw, i)
        reference = reference_object(ref, i)
        parsed = parse_output(raw)
        unparsable += parsed.error is not None
        answer = parsed.value if parsed.error is None else None
        total, length = scorer.pair(reference, answer)
        per_sample.append(total / length if length else 1.0)
        if isinstance(answer, dict):
            for key, score, size in scorer.keys(reference, answer):
                if key in reference:
                    vectors.setdefault(key, [math.nan] * len(predictions))[i] = (
                        score / size if size else 1.0
                    )
        else:
            for key in reference:
                vectors.setdefault(str(key), [math.nan] * len(predictions))[i] = float(
                    reference[key] is None
                )
    return MetricResult(
        name=anls_star.name,
        version=anls_star.version,
        value=sum(per_sample) / len(per_sample) if per_sample else math.nan,
        per_sample=per_sample,
        details={
            "per_field": {k: nanmean(v) for k, v in sorted(vectors.items())},
            "per_field_samples": dict(sorted(vectors.items())),
            "unparsable": unparsable,
            "threshold": threshold,
        },
        params={"threshold": threshold},
    )
