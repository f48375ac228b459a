"""Significance tests for two runs on the same samples, and Holm's adjustment.

- :func:`paired_permutation_test`: under "no difference", A's and B's values on one sample are
  exchangeable, so swapping them (flipping the sign of the per-sample difference) leaves the
  distribution unchanged. The p-value is the share of random swaps whose mean difference is at
  least as far from 0 as the observed one, two-sided, with the +1 correction
  ``(1 + hits) / (1 + n_permutations)`` (Phipson & Smyth 2010) that keeps it a valid p-value
  (never 0, false-positive rate at most alpha). With few samples (``2**n <= n_permutations``)
  every sign pattern is enumerated and the p-value is exact.
- :func:`paired_permutation_ratio_test`: the same exchange for corpus-level ratio metrics
  (swap the whole ``(numerator, denominator)`` pair of a sample between A and B).
- :func:`mcnemar`: for per-sample correct / incorrect (exact match), only the discordant
  samples carry information; exact binomial test when they are few, chi-square with
  continuity correction otherwise.
- :func:`holm`: adjusted p-values for many comparisons at once (Holm 1979).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from ._inputs import (
    Values,
    as_vector,
    check_denominators,
    check_resampling,
    check_same_length,
    check_seed,
    paired,
)

#: Upper bound on sign-matrix elements drawn per block.
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class PermutationTest:
    """Result of a paired permutation test; ``delta`` is B minus A on the observed data."""

    delta: float
    p_value: float
    n_permutations: int
    exact: bool
    seed: int
    n_samples: int

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


@dataclass(frozen=True)
class McNemarTest:
    """Result of McNemar's test; ``a_only`` = samples only A got right, ``b_only`` likewise."""

    a_only: int
    b_only: int
    n_samples: int
    statistic: float | None
    p_value: float
    method: str  # "exact" (binomial) or "chi2" (with continuity correction)

    @property
    def n_discordant(self) -> int:
        return self.a_only + self.b_only

    def to_dict(self) -> dict[str, float | int | str | None]:
        return {**asdict(self), "n_discordant": self.n_discordant}


def _sign_blocks(n: int, n_permutations: int, seed: int) -> Iterator[NDArray[np.float64]]:
    """Blocks of random swap masks (1 = swap A and B on that sample), drawn in stream order."""
    rows_per_block = max(1, _CHUNK_ELEMENTS // n)
    if _is_exact(n, n_permutations):  # few samples: every pattern, exactly once
        for start in range(0, 2**n, rows_per_block):
            codes = np.arange(start, min(2**n, start + rows_per_block))
            yield ((codes[:, None] >> np.arange(n)) & 1).astype(np.float64)
        return
    rng = np.random.default_rng(seed)
    for start in range(0, n_permutations, rows_per_block):
        rows = min(rows_per_block, n_permutations - start)
        # A fair coin per sample from uniform doubles: one double per coin whatever the
        # block shape, so the draws equal a per-permutation loop ``rng.random(n) < 0.5``.
        yield (rng.random((rows, n)) < 0.5).astype(np.float64)


def _is_exact(n: int, n_permutations: int) -> bool:
    """Whether all ``2**n`` sign patterns fit in the permutation budget (then enumerate them)."""
    return n < 63 and (1 << n) <= n_permutations


def _tolerance(scale: float) -> float:
    """Slack for float rounding, so a permutation equal to the observed one counts as a hit.

    Sums of the same numbers in another order differ by a few ulps of their magnitude;
    ``scale`` is that magnitude, and 1e-9 of it is far above rounding, far below any real
    difference between two permutation statistics.
    """
    return 1e-9 * scale


def _p_value(hits: int, total: int, exact: bool) -> float:
    return hits / total if exact else (hits + 1) / (total + 1)


def paired_permutation_test(
    a: Values,
    b: Values,
    *,
    n_permutations: int = 10000,
    seed: int = 0,
) -> PermutationTest:
    """Two-sided sign-flip permutation test of ``mean(b) - mean(a) == 0``.

    ``a`` and ``b`` are aligned sequences or mappings ``sample id -> value`` paired on ids.
    Makes no normality assumption, which matters for bounded, lumpy metrics like ANLS.
    """
    check_resampling(n_permutations, "n_permutations")
    check_seed(seed)
    va, vb, _ = paired(a, b)
    diff = vb - va
    n = diff.size
    observed = float(diff.mean())
    threshold = abs(observed) - _tolerance(float(np.abs(diff).mean()))
    hits = total = 0
    exact = _is_exact(n, n_permutations)
    full = diff.sum()
    for swaps in _sign_blocks(n, n_permutations, seed):
        # Swapping A and B on a sample flips the sign of its difference.
        permuted = np.abs(full - 2.0 * (swaps @ diff)) / n
        hits += int(np.count_nonzero(permuted >= threshold))
        total += swaps.shape[0]
    return PermutationTest(
        delta=observed,
        p_value=_p_value(hits, total, exact),
        n_permutations=total,
        exact=exact,
        seed=int(seed),
        n_samples=n,
    )


def paired_permutation_ratio_test(
    a_numerators: Sequence[float] | NDArray[np.floating],
    a_denominators: Sequence[float] | NDArray[np.floating],
    b_numerators: Sequence[float] | NDArray[np.floating],
    b_denominators: Sequence[float] | NDArray[np.floating],
    *,
    n_permutations: int = 10000,
    seed: int = 0,
) -> PermutationTest:
    """Two-sided permutation test of ``ratio(b) - ratio(a) == 0`` for corpus-level ratios.

    Each permutation swaps, per sample at random, A's and B's ``(numerator, denominator)``
    and recomputes both ratios of sums. All four sequences are aligned on the same samples.
    """
    check_resampling(n_permutations, "n_permutations")
    check_seed(seed)
    names = ("a_numerators", "a_denominators", "b_numerators", "b_denominators")
    an, ad, bn, bd = (
        as_vector(values, name)
        for values, name in zip(
            (a_numerators, a_denominators, b_numerators, b_denominators), names, strict=True
        )
    )
    check_same_length(*zip(names, (an, ad, bn, bd), strict=True))
    check_denominators(ad, "a_denominators", None)
    check_denominators(bd, "b_denominators", None)
    n = an.size
    observed = float(bn.sum() / bd.sum() - an.sum() / ad.sum())
    scale = max(abs(an.sum() / ad.sum()), abs(bn.sum() / bd.sum()), abs(observed))
    threshold = abs(observed) - _tolerance(scale)
    hits = total = 0
    exact = _is_exact(n, n_permutations)
    shifts = np.stack([bn - an, bd - ad], axis=1)  # what A gains (B loses) when a sample swaps
    for swaps in _sign_blocks(n, n_permutations, seed):
        # A swap moves a sample's pair from one side to the other: sums shift linearly.
        moved = swaps @ shifts
        a_num, a_den = an.sum() + moved[:, 0], ad.sum() + moved[:, 1]
        b_num, b_den = bn.sum() - moved[:, 0], bd.sum() - moved[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            permuted = np.abs(b_num / b_den - a_num / a_den)
        # A swap that leaves a side without any denominator has no ratio; it cannot be
        # "as extreme" as the data, so it counts as a miss (conservative).
        hits += int(np.count_nonzero(np.isfinite(permuted) & (permuted >= threshold)))
        total += swaps.shape[0]
    return PermutationTest(
        delta=observed,
        p_value=_p_value(hits, total, exact),
        n_permutations=total,
        exact=exact,
        seed=int(seed),
        n_samples=n,
    )


def _as_correct(values: Values, name: str, ids: Sequence[str] | None) -> NDArray[np.bool_]:
    vector = as_vector(values, name, ids)
    bad = np.flatnonzero((vector != 0) & (vector != 1))
    if bad.size:
        where = f"sample {ids[bad[0]]!r}" if ids is not None else f"position {int(bad[0])}"
        raise ValueError(
            f"{name}: value {float(vector[bad[0]])!r} at {where} is not correct/incorrect"
        )
    return vector.astype(bool)


def mcnemar(a_correct: Values, b_correct: Values, *, exact_below: int = 25) -> McNemarTest:
    """McNemar's test on per-sample correctness (booleans or 0/1) of two runs.

    When fewer than ``exact_below`` samples are discordant the chi-square approximation is
    poor, so the p-value is the exact two-sided binomial one (``B(n_discordant, 1/2)``,
    computed with integers). Otherwise it is the chi-square test with 1 degree of freedom
    and Edwards' continuity correction, ``(|a_only - b_only| - 1)^2 / (a_only + b_only)``
    (clamped at 0, so equal counts give p = 1). No discordant sample: p = 1.
    """
    if isinstance(exact_below, bool) or not isinstance(exact_below, int) or exact_below < 0:
        raise ValueError(f"exact_below must be a non-negative integer, got {exact_below!r}")
    va, vb, ids = paired(a_correct, b_correct, "a_correct", "b_correct")
    ca = _as_correct(va, "a_correct", ids)
    cb = _as_correct(vb, "b_correct", ids)
    a_only = int(np.count_nonzero(ca & ~cb))
    b_only = int(np.count_nonzero(cb & ~ca))
    discordant = a_only + b_only
    n = int(ca.size)
    if discordant == 0:
        return McNemarTest(a_only, b_only, n, None, 1.0, "exact")
    if discordant < exact_below:
        smaller = min(a_only, b_only)
        tail = sum(math.comb(discordant, k) for k in range(smaller + 1))
        p = min(Fraction(1), Fraction(2 * tail, 2**discordant))
        return McNemarTest(a_only, b_only, n, None, float(p), "exact")
    statistic = max(0, abs(a_only - b_only) - 1) ** 2 / discordant
    p_value = math.erfc(math.sqrt(statistic / 2.0))  # chi-square(1) survival function
    return McNemarTest(a_only, b_only, n, float(statistic), p_value, "chi2")


def holm(p_values: Sequence[float] | NDArray[np.floating]) -> list[float]:
    """Holm-adjusted p-values, in the input order.

    Comparing many prompts against one at alpha = 0.05 each would call about one in twenty
    no-difference prompts "better". Holm's step-down adjustment controls the chance of any
    false call across the whole family, and is uniformly more powerful than Bonferroni:
    sorted ascending, ``p_(i)`` becomes ``max_{j<=i} min(1, (m - j) * p_(j))`` (j from 0).
    Compare the adjusted values against the same alpha.
    """
    if len(p_values) == 0:
        return []  # an empty family: nothing to adjust
    values = as_vector(p_values, "p_values")
    bad = np.flatnonzero((values < 0) | (values > 1))
    if bad.size:
        raise ValueError(
            f"p_values: {float(values[bad[0]])!r} at position {int(bad[0])} is not a probability"
        )
    m = values.size
    order = np.argsort(values, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return [float(p) for p in adjusted]
