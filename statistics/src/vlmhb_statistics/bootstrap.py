"""Seeded, vectorised bootstrap confidence intervals over samples.

One engine serves every form. A statistic is written as a function of *column sums* of a
per-sample matrix: a mean is ``sum(x) / n``, a corpus-level ratio such as CER is
``sum(edits) / sum(reference_chars)``, a paired delta is ``sum(b - a) / n``. Resampling samples
with replacement then only needs, per resample, the sums of the drawn rows, which numpy computes
for a whole block of resamples at once from an index matrix (``rng.integers(0, n, (rows, n))``).
Index blocks are drawn from one ``numpy.random.default_rng(seed)`` stream in order, so the
numbers are identical to the plain loop ``for r in range(n_resamples): idx = rng.integers(0, n,
n)`` with the same seed, whatever the block size.

Intervals are *percentile* intervals by default: the ``(1 - confidence) / 2`` and
``1 - (1 - confidence) / 2`` quantiles (numpy's default linear interpolation) of the resampled
statistics. ``method="bca"`` gives the bias-corrected and accelerated interval (Efron 1987),
with the acceleration from the jackknife; it corrects percentile intervals for skewed
statistics (ratios, rates near 0 or 1) at the cost of needing at least two samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ._inputs import (
    Values,
    as_vector,
    check_denominators,
    check_probability,
    check_resampling,
    check_same_length,
    check_seed,
    paired,
    single,
)

Method = Literal["percentile", "bca"]

#: Upper bound on index-matrix elements drawn per block (memory ~ 8 bytes each, per column).
_CHUNK_ELEMENTS = 1 << 22

# A statistic from column sums: (sums of shape (resamples, k), number of samples) -> values.
_Statistic = Callable[[NDArray[np.float64], int], NDArray[np.float64]]


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with its bootstrap interval and what is needed to reproduce it.

    ``n_resamples`` and ``seed`` are part of the result because a CI printed without them
    cannot be re-derived; the leaderboard records both in the run's metadata.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    seed: int
    method: str
    n_samples: int

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)

    def __contains__(self, value: float) -> bool:
        """``0.0 in ci``: whether the interval covers ``value`` (ends included)."""
        return self.low <= value <= self.high


def _resampled_sums(
    columns: Sequence[NDArray[np.float64]], n_resamples: int, seed: int
) -> NDArray[np.float64]:
    """Per resample, the sum of each column over the drawn samples: shape (n_resamples, k)."""
    n = columns[0].size
    rng = np.random.default_rng(seed)
    sums = np.empty((n_resamples, len(columns)), dtype=np.float64)
    rows_per_block = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, rows_per_block):
        rows = min(rows_per_block, n_resamples - start)
        index = rng.integers(0, n, size=(rows, n))
        for k, column in enumerate(columns):
            # Summing each column along its contiguous last axis matches column[idx].sum()
            # in a per-resample loop bit for bit (same pairwise summation).
            sums[start : start + rows, k] = column[index].sum(axis=1)
    return sums


def _interval(
    columns: Sequence[NDArray[np.float64]],
    statistic: _Statistic,
    *,
    n_resamples: int,
    seed: int,
    confidence: float,
    method: Method,
) -> ConfidenceInterval:
    check_resampling(n_resamples, "n_resamples")
    check_seed(seed)
    check_probability(confidence, "confidence")
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', got {method!r}")
    n = columns[0].size
    totals = np.array([[column.sum() for column in columns]])
    estimate = float(statistic(totals, n)[0])
    replicates = statistic(_resampled_sums(columns, n_resamples, seed), n)
    tail = (1.0 - confidence) / 2.0
    if method == "percentile":
        levels = np.array([tail, 1.0 - tail])
    else:
        levels = _bca_levels(columns, statistic, estimate, replicates, tail)
    low, high = np.quantile(replicates, levels)
    return ConfidenceInterval(
        estimate=estimate,
        low=float(low),
        high=float(high),
        confidence=float(confidence),
        n_resamples=int(n_resamples),
        seed=int(seed),
        method=method,
        n_samples=int(n),
    )


def _bca_levels(
    columns: Sequence[NDArray[np.float64]],
    statistic: _Statistic,
    estimate: float,
    replicates: NDArray[np.float64],
    tail: float,
) -> NDArray[np.float64]:
    """BCa quantile levels: bias from the replicates, acceleration from the jackknife."""
    n = columns[0].size
    if n < 2:
        raise ValueError("method='bca' needs at least 2 samples (its jackknife leaves one out)")
    normal = NormalDist()
    # Ties count half, so a statistic with many equal replicates (accuracy on few samples)
    # is not pushed to one side.
    below = np.count_nonzero(replicates < estimate) + 0.5 * np.count_nonzero(replicates == estimate)
    share = below / replicates.size
    if not 0.0 < share < 1.0:
        raise ValueError(
            "method='bca' is undefined here: every resampled statistic lies on one side of "
            "the estimate; use method='percentile'"
        )
    z0 = normal.inv_cdf(share)
    leave_one_out_sums = np.stack([column.sum() - column for column in columns], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        jackknife = statistic(leave_one_out_sums, n - 1)
    if not np.all(np.isfinite(jackknife)):
        raise ValueError(
            "method='bca': leaving one sample out makes the statistic undefined "
            "(a denominator becomes 0); use method='percentile'"
        )
    spread = jackknife.mean() - jackknife
    scale = float(np.sum(spread**2))
    acceleration = float(np.sum(spread**3)) / (6.0 * scale**1.5) if scale > 0 else 0.0
    levels = []
    for level in (tail, 1.0 - tail):
        z = normal.inv_cdf(level)
        adjusted = z0 + (z0 + z) / (1.0 - acceleration * (z0 + z))
        levels.append(normal.cdf(adjusted))
    return np.array(levels)


def _mean(sums: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    return sums[:, 0] / n


def _ratio(sums: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    if np.any(sums[:, 1] == 0):
        raise ValueError(
            "a resample drew only samples whose denominator is 0, so its ratio is undefined; "
            "too many samples have a zero denominator for a bootstrap of this ratio"
        )
    return sums[:, 0] / sums[:, 1]


def _ratio_delta(sums: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """(sum b_num / sum b_den) - (sum a_num / sum a_den); columns a_num, a_den, b_num, b_den."""
    if np.any(sums[:, 1] == 0) or np.any(sums[:, 3] == 0):
        raise ValueError(
            "a resample drew only samples whose denominator is 0, so its ratio is undefined; "
            "too many samples have a zero denominator for a bootstrap of this ratio"
        )
    return sums[:, 2] / sums[:, 3] - sums[:, 0] / sums[:, 1]


def bootstrap_ci(
    values: Values,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    method: Method = "percentile",
) -> ConfidenceInterval:
    """CI of the mean of per-sample values (accuracy, ANLS, F1: metrics averaged over samples).

    ``values`` is a sequence (or 1-D array) of one finite number per sample, or a mapping
    ``sample id -> value`` (read in sorted id order, so a mapping's iteration order does not
    change the numbers).
    """
    vector, _ = single(values, "values")
    return _interval(
        [vector],
        _mean,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        method=method,
    )


def bootstrap_ratio_ci(
    numerators: Sequence[float] | NDArray[np.floating],
    denominators: Sequence[float] | NDArray[np.floating],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    method: Method = "percentile",
) -> ConfidenceInterval:
    """CI of a corpus-level ratio ``sum(numerators) / sum(denominators)``.

    For metrics like CER (edits / reference characters) or WER the corpus value is *not* the
    mean of per-sample rates: a short reference with one error must not weigh as much as a
    page. So each resample draws samples and recomputes the ratio of sums. Denominators are
    counts: non-negative, with a positive total.
    """
    num = as_vector(numerators, "numerators")
    den = as_vector(denominators, "denominators")
    check_same_length(("numerators", num), ("denominators", den))
    check_denominators(den, "denominators", None)
    return _interval(
        [num, den],
        _ratio,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        method=method,
    )


def paired_bootstrap_delta(
    a: Values,
    b: Values,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    method: Method = "percentile",
) -> ConfidenceInterval:
    """CI of ``mean(b) - mean(a)`` over the same samples, resampling samples (pairs) together.

    Resampling pairs rather than each run separately keeps the per-sample correlation (an
    image hard for A is usually hard for B), which makes the interval much narrower than two
    independent CIs would suggest. ``a`` and ``b`` are aligned sequences, or mappings
    ``sample id -> value`` paired on their ids (a sample in one run only is an error; see
    :func:`pair_by_id` to drop such samples explicitly). The sign reads "B relative to A".
    """
    va, vb, _ = paired(a, b)
    return _interval(
        [vb - va],
        _mean,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        method=method,
    )


def paired_bootstrap_ratio_delta(
    a_numerators: Sequence[float] | NDArray[np.floating],
    a_denominators: Sequence[float] | NDArray[np.floating],
    b_numerators: Sequence[float] | NDArray[np.floating],
    b_denominators: Sequence[float] | NDArray[np.floating],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    method: Method = "percentile",
) -> ConfidenceInterval:
    """CI of ``ratio(b) - ratio(a)`` for a corpus-level ratio metric, resampling samples together.

    All four sequences are aligned on the same samples (use :func:`pair_by_id` on
    ``(numerator, denominator)`` tuples to align two runs by sample id).
    """
    columns = [
        as_vector(a_numerators, "a_numerators"),
        as_vector(a_denominators, "a_denominators"),
        as_vector(b_numerators, "b_numerators"),
        as_vector(b_denominators, "b_denominators"),
    ]
    check_same_length(
        *zip(
            ("a_numerators", "a_denominators", "b_numerators", "b_denominators"),
            columns,
            strict=True,
        )
    )
    check_denominators(columns[1], "a_denominators", None)
    check_denominators(columns[3], "b_denominators", None)
    return _interval(
        columns,
        _ratio_delta,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        method=method,
    )
