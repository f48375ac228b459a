"""Page-order metrics: how close a predicted order of pages is to the true one.

Each sample compares the prediction with the reference through ``y``: for the reference's
k-th item (k = 0..n-1), ``y_k`` is its position in the prediction (a perfect answer has
``y_k = k``). Over the n(n-1)/2 pairs k < l, a pair is concordant when ``y_k < y_l``.

- ``kendall_tau``: (concordant - discordant) / (n(n-1)/2), Kendall (1938). No ties exist in
  a permutation, so tau-a = tau-b (scipy's default).
- ``spearman_rho``: 1 - 6 sum_k (y_k - k)^2 / (n(n^2-1)), Spearman (1904): Pearson's r of
  the two rank vectors, which the formula equals without ties.
- ``exact_order``: 1 if ``y_k = k`` for every k, else 0.
- ``position_accuracy``: the share of k with ``y_k = k`` (pages in their exact slot).
- ``adjacent_pairs``: the share of the reference's n-1 neighbouring pairs (k, k+1) that the
  prediction keeps in the right relative order (``y_k < y_{k+1}``, not necessarily still
  next to each other); ``details`` carries the counts.

A single page has only one order: every metric gives it 1.0 when answered. A malformed answer
(:mod:`.orders`) scores the worst value (-1 for tau and rho, 0 otherwise) and is counted in
``details["malformed"]`` with its reason. The value is the mean over samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._result import MetricResult, metric
from .orders import Malformed, check_pairs, positions, reference_order


def _kendall(y: list[int]) -> float:
    n = len(y)
    if n < 2:
        return 1.0
    score = sum(1 if y[k] < y[m] else -1 for k in range(n) for m in range(k + 1, n))
    return score / (n * (n - 1) / 2)


def _spearman(y: list[int]) -> float:
    n = len(y)
    if n < 2:
        return 1.0
    return 1.0 - 6.0 * sum((v - k) ** 2 for k, v in enumerate(y)) / (n * (n * n - 1))


def _exact(y: list[int]) -> float:
    return float(all(v == k for k, v in enumerate(y)))


def _position(y: list[int]) -> float:
    return sum(v == k for k, v in enumerate(y)) / len(y)


def _adjacent_count(y: list[int]) -> int:
    return sum(y[k] < y[k + 1] for k in range(len(y) - 1))


def _adjacent(y: list[int]) -> float:
    return _adjacent_count(y) / (len(y) - 1) if len(y) > 1 else 1.0


def _score(
    func: Any,
    score: Callable[[list[int]], float],
    worst: float,
    predictions: Sequence[Any],
    references: Sequence[Any],
    params: dict[str, Any],
) -> tuple[MetricResult, list[list[int] | None], list[list[str]]]:
    if params:
        raise ValueError(
            f"{func.name}: unknown parameter(s) {', '.join(sorted(params))}; it takes none"
        )
    check_pairs(predictions, references)
    per_sample: list[float] = []
    ys: list[list[int] | None] = []
    refs: list[list[str]] = []
    malformed: list[dict[str, Any]] = []
    for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        order = reference_order(reference, i)
        refs.append(order)
        try:
            y = positions(prediction, order)
        except Malformed as error:
            malformed.append({"index": i, "reason": str(error)})
            per_sample.append(worst)
            ys.append(None)
            continue
        ys.append(y)
        per_sample.append(score(y))
    value = sum(per_sample) / len(per_sample) if per_sample else 0.0
    result = MetricResult(
        name=func.name,
        version=func.version,
        value=value,
        per_sample=per_sample,
        details={
            "samples": len(per_sample),
            "malformed": len(malformed),
            "malformed_samples": malformed,
            "worst": worst,
        },
    )
    return result, ys, refs


@metric("kendall_tau", "1")
def kendall_tau(
    predictions: Sequence[Any], references: Sequence[Any], **params: Any
) -> MetricResult:
    """Kendall's tau between the predicted and the true order (1 perfect, -1 reversed)."""
    return _score(kendall_tau, _kendall, -1.0, predictions, references, params)[0]


@metric("spearman_rho", "1")
def spearman_rho(
    predictions: Sequence[Any], references: Sequence[Any], **params: Any
) -> MetricResult:
    """Spearman's rho between the predicted and the true order (1 perfect, -1 reversed);
    unlike tau it weighs a page by how far it moved."""
    return _score(spearman_rho, _spearman, -1.0, predictions, references, params)[0]


@metric("exact_order", "1")
def exact_order(
    predictions: Sequence[Any], references: Sequence[Any], **params: Any
) -> MetricResult:
    """Share of samples whose whole order is right: the strict number a user can act on."""
    return _score(exact_order, _exact, 0.0, predictions, references, params)[0]


@metric("position_accuracy", "1")
def position_accuracy(
    predictions: Sequence[Any], references: Sequence[Any], **params: Any
) -> MetricResult:
    """Share of pages in their exact slot, averaged over samples; one misplaced first page
    shifts every other page, so this is harsh on shifts where tau is not."""
    return _score(position_accuracy, _position, 0.0, predictions, references, params)[0]


@metric("adjacent_pairs", "1")
def adjacent_pairs(
    predictions: Sequence[Any], references: Sequence[Any], **params: Any
) -> MetricResult:
    """Share of neighbouring reference pages kept in the right relative order; ``details``
    has ``correct_pairs`` (the number, per sample and in total) and ``pairs``."""
    result, ys, refs = _score(adjacent_pairs, _adjacent, 0.0, predictions, references, params)
    counts = [_adjacent_count(y) if y is not None else 0 for y in ys]
    pairs = [len(r) - 1 for r in refs]
    details = {
        **result.details,
        "correct_pairs": sum(counts),
        "pairs": sum(pairs),
        "per_sample_correct_pairs": counts,
        "per_sample_pairs": pairs,
    }
    return MetricResult(result.name, result.version, result.value, result.per_sample, details)
