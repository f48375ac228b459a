"""One-call comparisons of run B against run A on one metric, with a verdict.

These are what ``vlmhb compare`` prints per metric: both runs' values, the delta ``B - A``
with its paired-bootstrap CI, a p-value, and a verdict from the p-value at ``alpha`` and the
metric's direction. The verdict is read from the test (not from whether the CI covers 0)
because the test's false-positive rate is what is controlled at ``alpha``, and because
:func:`holm_adjust` can then adjust the p-values of a whole matrix of comparisons and
re-derive the verdicts. The CI says how large the change plausibly is; near the boundary
the two can disagree (a CI just touching 0 with p just below alpha), which is expected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from ._inputs import Values, check_probability, paired
from .bootstrap import paired_bootstrap_delta, paired_bootstrap_ratio_delta
from .significance import (
    holm,
    mcnemar,
    paired_permutation_ratio_test,
    paired_permutation_test,
)


class Verdict(str, Enum):
    """B relative to A on one metric, after accounting for the metric's direction."""

    BETTER = "better"
    WORSE = "worse"
    NO_DIFFERENCE = "no significant difference"

    def __str__(self) -> str:
        return self.value


def verdict(
    delta: float, p_value: float, *, higher_is_better: bool, alpha: float = 0.05
) -> Verdict:
    """``better`` / ``worse`` when ``p_value < alpha``, by the sign of ``delta = B - A``.

    ``higher_is_better`` is the metric's direction: True for accuracy or ANLS, False for
    error rates such as CER, where a positive delta is a regression.
    """
    check_probability(alpha, "alpha")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better must be True or False, got {higher_is_better!r}")
    if not (isinstance(p_value, (int, float)) and 0.0 <= p_value <= 1.0):
        raise ValueError(f"p_value must be a probability in [0, 1], got {p_value!r}")
    if not math.isfinite(delta):
        raise ValueError(f"delta must be a finite number, got {delta!r}")
    if p_value >= alpha or delta == 0:
        return Verdict.NO_DIFFERENCE
    return Verdict.BETTER if (delta > 0) == higher_is_better else Verdict.WORSE


@dataclass(frozen=True)
class Comparison:
    """B against A on one metric: the row ``vlmhb compare --json`` prints.

    ``to_dict()`` starts with the keys ``metric, a, b, delta, ci_low, ci_high, p_value,
    verdict`` and adds what is needed to reproduce the numbers (test, seed, resamples).
    ``p_value_unadjusted`` is set once :func:`holm_adjust` has replaced ``p_value``.
    """

    metric: str | None
    a: float
    b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: Verdict
    test: str
    higher_is_better: bool
    alpha: float
    confidence: float
    n_samples: int
    n_resamples: int
    n_permutations: int | None
    seed: int
    p_value_unadjusted: float | None = None

    def to_dict(self) -> dict[str, object]:
        row = asdict(self)
        row["verdict"] = self.verdict.value
        return row


def _settings(alpha: float, confidence: float) -> None:
    check_probability(alpha, "alpha")
    check_probability(confidence, "confidence")


def compare_means(
    a: Values,
    b: Values,
    *,
    higher_is_better: bool,
    metric: str | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    n_permutations: int = 10000,
    seed: int = 0,
) -> Comparison:
    """Compare a metric averaged over samples (ANLS, F1, accuracy as floats).

    Delta CI by paired bootstrap, p-value by the paired sign-flip permutation test.
    ``a`` / ``b``: aligned sequences or mappings ``sample id -> value`` paired on ids.
    """
    _settings(alpha, confidence)
    va, vb, _ = paired(a, b)
    ci = paired_bootstrap_delta(va, vb, n_resamples=n_resamples, seed=seed, confidence=confidence)
    test = paired_permutation_test(va, vb, n_permutations=n_permutations, seed=seed)
    return Comparison(
        metric=metric,
        a=float(va.mean()),
        b=float(vb.mean()),
        delta=ci.estimate,
        ci_low=ci.low,
        ci_high=ci.high,
        p_value=test.p_value,
        verdict=verdict(ci.estimate, test.p_value, higher_is_better=higher_is_better, alpha=alpha),
        test="permutation-exact" if test.exact else "permutation",
        higher_is_better=higher_is_better,
        alpha=float(alpha),
        confidence=float(confidence),
        n_samples=ci.n_samples,
        n_resamples=ci.n_resamples,
        n_permutations=test.n_permutations,
        seed=int(seed),
    )


def compare_ratios(
    a_numerators: Sequence[float] | NDArray[np.floating],
    a_denominators: Sequence[float] | NDArray[np.floating],
    b_numerators: Sequence[float] | NDArray[np.floating],
    b_denominators: Sequence[float] | NDArray[np.floating],
    *,
    higher_is_better: bool,
    metric: str | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    n_permutations: int = 10000,
    seed: int = 0,
) -> Comparison:
    """Compare a corpus-level ratio metric (CER = edits / reference characters, WER).

    The four sequences are aligned on the same samples; the values compared are
    ``sum(num) / sum(den)`` per run, never the mean of per-sample ratios.
    """
    _settings(alpha, confidence)
    ci = paired_bootstrap_ratio_delta(
        a_numerators,
        a_denominators,
        b_numerators,
        b_denominators,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
    )
    test = paired_permutation_ratio_test(
        a_numerators,
        a_denominators,
        b_numerators,
        b_denominators,
        n_permutations=n_permutations,
        seed=seed,
    )
    a_value = float(np.sum(a_numerators) / np.sum(a_denominators))
    b_value = float(np.sum(b_numerators) / np.sum(b_denominators))
    return Comparison(
        metric=metric,
        a=a_value,
        b=b_value,
        delta=ci.estimate,
        ci_low=ci.low,
        ci_high=ci.high,
        p_value=test.p_value,
        verdict=verdict(ci.estimate, test.p_value, higher_is_better=higher_is_better, alpha=alpha),
        test="permutation-exact" if test.exact else "permutation",
        higher_is_better=higher_is_better,
        alpha=float(alpha),
        confidence=float(confidence),
        n_samples=ci.n_samples,
        n_resamples=ci.n_resamples,
        n_permutations=test.n_permutations,
        seed=int(seed),
    )


def compare_binary(
    a_correct: Values,
    b_correct: Values,
    *,
    higher_is_better: bool = True,
    metric: str | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    exact_below: int = 25,
) -> Comparison:
    """Compare a per-sample correct / incorrect metric (exact match): McNemar's test.

    Values are booleans or 0/1 (aligned sequences or mappings by sample id); the compared
    values are the shares correct, and the delta CI is the paired bootstrap of that share.
    """
    _settings(alpha, confidence)
    va, vb, ids = paired(a_correct, b_correct, "a_correct", "b_correct")
    keyed_a = dict(zip(ids, va, strict=True)) if ids is not None else va
    keyed_b = dict(zip(ids, vb, strict=True)) if ids is not None else vb
    test = mcnemar(keyed_a, keyed_b, exact_below=exact_below)  # validates 0/1 by sample id
    ci = paired_bootstrap_delta(va, vb, n_resamples=n_resamples, seed=seed, confidence=confidence)
    return Comparison(
        metric=metric,
        a=float(va.mean()),
        b=float(vb.mean()),
        delta=ci.estimate,
        ci_low=ci.low,
        ci_high=ci.high,
        p_value=test.p_value,
        verdict=verdict(ci.estimate, test.p_value, higher_is_better=higher_is_better, alpha=alpha),
        test=f"mcnemar-{test.method}",
        higher_is_better=higher_is_better,
        alpha=float(alpha),
        confidence=float(confidence),
        n_samples=ci.n_samples,
        n_resamples=ci.n_resamples,
        n_permutations=None,
        seed=int(seed),
    )


def holm_adjust(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The same comparisons with Holm-adjusted p-values and verdicts re-derived from them.

    Use it on a family of comparisons reported together (many prompts against one, every
    metric of a run pair); each keeps its own alpha and direction, and its raw p-value in
    ``p_value_unadjusted``. Adjusting twice is refused, since it would inflate p-values.
    """
    comparisons = list(comparisons)
    for position, comparison in enumerate(comparisons):
        if not isinstance(comparison, Comparison):
            raise TypeError(
                f"holm_adjust: item {position} is {type(comparison).__name__}, not a Comparison"
            )
        if comparison.p_value_unadjusted is not None:
            raise ValueError(
                f"holm_adjust: comparison {position} ({comparison.metric or 'unnamed'}) "
                "is already adjusted"
            )
    if not comparisons:
        return []
    adjusted = holm([c.p_value for c in comparisons])
    return [
        replace(
            c,
            p_value=p,
            p_value_unadjusted=c.p_value,
            verdict=verdict(c.delta, p, higher_is_better=c.higher_is_better, alpha=c.alpha),
        )
        for c, p in zip(comparisons, adjusted, strict=True)
    ]
