"""Verdicts on synthetic differences of known size, and the false-positive rate on none."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from vlmhb_statistics import (
    Comparison,
    Verdict,
    compare_binary,
    compare_means,
    compare_ratios,
    holm_adjust,
    verdict,
)

TRIALS = 400
# Under "no difference" each trial is a false positive with probability alpha = 0.05 (at most:
# the +1 correction and McNemar's exact test are slightly conservative). The count over 400
# independent trials is then Binomial(400, 0.05): expect 20, and 99.9% of the time within:
FP_LOW, FP_HIGH = scipy.stats.binom.interval(0.999, TRIALS, 0.05)


def anls_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-sample scores in [0, 1] with per-sample difficulty, as a real dataset has."""
    return np.clip(rng.beta(4, 2, n), 0, 1)


# --- differences of known size -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_large_improvement_is_better_and_large_regression_is_worse(seed):
    rng = np.random.default_rng(seed)
    a = anls_like(rng, 80)
    b = a + 0.1 + rng.normal(0, 0.05, 80)  # +0.1 on average, effect 2 sd of the noise
    up = compare_means(a, b, higher_is_better=True, metric="anls", seed=seed)
    assert up.verdict is Verdict.BETTER
    assert up.ci_low > 0 and up.delta == pytest.approx(np.mean(b - a))
    assert compare_means(b, a, higher_is_better=True, seed=seed).verdict is Verdict.WORSE
    # the same numbers for an error rate (lower is better) read the other way
    assert compare_means(a, b, higher_is_better=False, seed=seed).verdict is Verdict.WORSE


def test_moderate_effect_is_found_with_enough_samples():
    """delta = 0.5 sd of the per-sample differences with 100 samples: z about 5."""
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        a = anls_like(rng, 100)
        b = a + rng.normal(0.05, 0.1, 100)
        assert compare_means(a, b, higher_is_better=True, seed=seed).verdict is Verdict.BETTER


def test_no_difference_false_positive_rate_is_about_five_percent():
    calls = []
    for trial in range(TRIALS):
        rng = np.random.default_rng(10_000 + trial)
        truth = anls_like(rng, 40)
        a = truth + rng.normal(0, 0.1, 40)  # two runs, same quality, independent noise
        b = truth + rng.normal(0, 0.1, 40)
        row = compare_means(
            a, b, higher_is_better=True, n_permutations=1000, n_resamples=100, seed=trial
        )
        calls.append(row.verdict)
    false_positives = sum(v is not Verdict.NO_DIFFERENCE for v in calls)
    assert FP_LOW <= false_positives <= FP_HIGH


def test_no_difference_false_positive_rate_for_ratio_metrics():
    false_positives = 0
    for trial in range(TRIALS):
        rng = np.random.default_rng(20_000 + trial)
        ref_chars = rng.integers(5, 120, 50)
        error_rate = rng.uniform(0.0, 0.3, 50)  # per-sample difficulty, shared by both runs
        a_edits = rng.binomial(ref_chars, error_rate)
        b_edits = rng.binomial(ref_chars, error_rate)
        row = compare_ratios(
            a_edits,
            ref_chars,
            b_edits,
            ref_chars,
            higher_is_better=False,
            n_permutations=1000,
            n_resamples=100,
            seed=trial,
        )
        false_positives += row.verdict is not Verdict.NO_DIFFERENCE
    assert FP_LOW <= false_positives <= FP_HIGH


def test_no_difference_mcnemar_stays_at_or_below_five_percent():
    false_positives = 0
    for trial in range(TRIALS):
        rng = np.random.default_rng(30_000 + trial)
        p_correct = rng.uniform(0.2, 0.95, 100)
        a = rng.random(100) < p_correct
        b = rng.random(100) < p_correct
        false_positives += (
            compare_binary(a, b, n_resamples=100, seed=trial).verdict is not Verdict.NO_DIFFERENCE
        )
    assert false_positives <= FP_HIGH  # McNemar is conservative: the lower bound may not hold


def test_ratio_comparison_uses_corpus_values():
    """B fixes one error on each short line but breaks a long page: per-sample mean says
    better, the corpus CER (what the leaderboard shows) says worse, and compare follows it."""
    ref = [10.0] * 40 + [2000.0] * 10
    a_edits = [2.0] * 40 + [0.0] * 10
    b_edits = [1.0] * 40 + [20.0] * 10
    row = compare_ratios(a_edits, ref, b_edits, ref, higher_is_better=False, metric="cer")
    assert row.a == pytest.approx(80 / 20400) and row.b == pytest.approx(240 / 20400)
    assert row.verdict is Verdict.WORSE
    per_sample = compare_means(
        [e / r for e, r in zip(a_edits, ref, strict=True)],
        [e / r for e, r in zip(b_edits, ref, strict=True)],
        higher_is_better=False,
    )
    assert per_sample.verdict is Verdict.BETTER


def test_binary_comparison_reports_accuracies_and_mcnemar():
    a = {f"q{i}": i < 30 for i in range(50)}  # 30 of 50 right
    b = {f"q{i}": i < 45 for i in range(50)}  # the same 30 and 15 more
    row = compare_binary(a, b, metric="exact_match")
    assert (row.a, row.b, row.delta) == (pytest.approx(0.6), pytest.approx(0.9), pytest.approx(0.3))
    assert row.test == "mcnemar-exact" and row.p_value == pytest.approx(2 / 2**15)
    assert row.verdict is Verdict.BETTER and row.n_permutations is None


# --- verdict, rows, Holm ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "p", "higher_is_better", "expected"),
    [
        (0.1, 0.01, True, Verdict.BETTER),
        (-0.1, 0.01, True, Verdict.WORSE),
        (0.1, 0.01, False, Verdict.WORSE),
        (-0.1, 0.01, False, Verdict.BETTER),
        (0.1, 0.05, True, Verdict.NO_DIFFERENCE),  # p must be below alpha
        (0.1, 0.5, True, Verdict.NO_DIFFERENCE),
        (0.0, 0.0, True, Verdict.NO_DIFFERENCE),
    ],
)
def test_verdict_table(delta, p, higher_is_better, expected):
    assert verdict(delta, p, higher_is_better=higher_is_better) is expected
    assert str(expected) == expected.value


def test_verdict_rejects_bad_arguments():
    with pytest.raises(ValueError, match="alpha must be strictly between 0 and 1"):
        verdict(0.1, 0.01, higher_is_better=True, alpha=5)
    with pytest.raises(ValueError, match="p_value must be a probability"):
        verdict(0.1, 1.2, higher_is_better=True)
    with pytest.raises(TypeError, match="higher_is_better must be True or False"):
        verdict(0.1, 0.01, higher_is_better="yes")  # type: ignore[arg-type]


def test_row_has_the_compare_json_keys_first():
    row = compare_means([0.1, 0.2, 0.3], [0.2, 0.3, 0.5], higher_is_better=True, metric="anls")
    keys = list(row.to_dict())
    assert keys[:8] == ["metric", "a", "b", "delta", "ci_low", "ci_high", "p_value", "verdict"]
    assert row.to_dict()["verdict"] == "no significant difference"  # 3 samples: p >= 0.25
    assert {"seed", "n_resamples", "n_permutations", "test"} <= set(keys)


def test_holm_adjust_turns_marginal_calls_into_no_difference():
    rng = np.random.default_rng(0)
    a = anls_like(rng, 60)
    strong = a + rng.normal(0.1, 0.05, 60)
    marginal = a + rng.normal(0.025, 0.1, 60)
    rows = [
        compare_means(a, strong, higher_is_better=True, metric="strong"),
        compare_means(a, marginal, higher_is_better=True, metric="marginal"),
        compare_means(a, a + rng.normal(0, 0.1, 60), higher_is_better=True, metric="none"),
    ]
    assert 0.05 / 3 < rows[1].p_value < 0.05 and rows[1].verdict is Verdict.BETTER
    adjusted = holm_adjust(rows)
    assert [r.verdict for r in adjusted] == [
        Verdict.BETTER,
        Verdict.NO_DIFFERENCE,
        Verdict.NO_DIFFERENCE,
    ]
    assert [r.p_value_unadjusted for r in adjusted] == [r.p_value for r in rows]
    assert all(r.p_value >= r.p_value_unadjusted for r in adjusted)
    with pytest.raises(ValueError, match="comparison 0 \\(strong\\) is already adjusted"):
        holm_adjust(adjusted)
    assert holm_adjust([]) == []
    with pytest.raises(TypeError, match="item 0 is dict, not a Comparison"):
        holm_adjust([rows[0].to_dict()])  # type: ignore[list-item]
    assert isinstance(adjusted[0], Comparison)
