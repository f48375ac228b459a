"""Bootstrap CIs against a reference bootstrap written as a plain loop (same seed, same numbers)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
import scipy.stats
from vlmhb_statistics import (
    ConfidenceInterval,
    bootstrap_ci,
    bootstrap_ratio_ci,
    paired_bootstrap_delta,
    paired_bootstrap_ratio_delta,
)
from vlmhb_statistics import bootstrap as bootstrap_module

# --- the reference: one resample at a time, plain Python sums, quantiles by hand -------------


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, written out)."""
    h = (len(sorted_values) - 1) * q
    below = math.floor(h)
    above = min(below + 1, len(sorted_values) - 1)
    return sorted_values[below] + (h - below) * (sorted_values[above] - sorted_values[below])


def reference_replicates(columns, statistic, n_resamples, seed):
    """For r in range(n_resamples): draw n indices, recompute the statistic from the drawn rows."""
    rng = np.random.default_rng(seed)
    n = len(columns[0])
    replicates = []
    for _ in range(n_resamples):
        index = rng.integers(0, n, size=n)
        sums = [sum(float(column[i]) for i in index) for column in columns]
        replicates.append(statistic(sums, n))
    return replicates


def reference_percentile(columns, statistic, n_resamples=500, seed=0, confidence=0.95):
    replicates = sorted(reference_replicates(columns, statistic, n_resamples, seed))
    tail = (1 - confidence) / 2
    estimate = statistic([sum(map(float, column)) for column in columns], len(columns[0]))
    return estimate, quantile(replicates, tail), quantile(replicates, 1 - tail)


def reference_bca(columns, statistic, n_resamples=500, seed=0, confidence=0.95):
    """Efron's BCa: z0 from the share of replicates below the estimate (ties half), a from
    the jackknife, then the adjusted percentile levels."""
    n = len(columns[0])
    replicates = reference_replicates(columns, statistic, n_resamples, seed)
    totals = [sum(map(float, column)) for column in columns]
    estimate = statistic(totals, n)
    below = sum(r < estimate for r in replicates) + 0.5 * sum(r == estimate for r in replicates)
    z0 = NormalDist().inv_cdf(below / n_resamples)
    jackknife = []
    for left_out in range(n):
        sums = [
            total - float(column[left_out]) for total, column in zip(totals, columns, strict=True)
        ]
        jackknife.append(statistic(sums, n - 1))
    centre = sum(jackknife) / n
    num = sum((centre - j) ** 3 for j in jackknife)
    den = 6 * sum((centre - j) ** 2 for j in jackknife) ** 1.5
    a = num / den
    tail = (1 - confidence) / 2
    ordered = sorted(replicates)
    ends = []
    for level in (tail, 1 - tail):
        z = NormalDist().inv_cdf(level)
        ends.append(quantile(ordered, NormalDist().cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))))
    return estimate, ends[0], ends[1]


def mean(sums, n):
    return sums[0] / n


def ratio(sums, n):
    return sums[0] / sums[1]


def ratio_delta(sums, n):
    return sums[2] / sums[3] - sums[0] / sums[1]


def assert_matches(ci: ConfidenceInterval, reference: tuple[float, float, float]) -> None:
    # Same draws, same order statistics: only summation order may differ (plain vs pairwise).
    assert (ci.estimate, ci.low, ci.high) == pytest.approx(reference, rel=1e-12, abs=1e-15)


@pytest.fixture
def scores() -> np.ndarray:
    return np.random.default_rng(7).beta(2, 5, size=37)  # odd size, skewed, in [0, 1]


# --- mean form -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_mean_ci_equals_reference_loop(scores, seed, confidence):
    ci = bootstrap_ci(scores, n_resamples=500, seed=seed, confidence=confidence)
    assert_matches(ci, reference_percentile([scores], mean, 500, seed, confidence))
    assert (ci.n_resamples, ci.seed, ci.confidence, ci.method, ci.n_samples) == (
        500,
        seed,
        confidence,
        "percentile",
        37,
    )


def test_same_seed_same_numbers_other_seed_other_numbers(scores):
    assert bootstrap_ci(scores, seed=3) == bootstrap_ci(list(scores), seed=3)
    assert bootstrap_ci(scores, seed=3) != bootstrap_ci(scores, seed=4)


def test_blocks_do_not_change_the_numbers(scores, monkeypatch):
    """The index matrix is drawn in blocks to bound memory; the block size must not matter."""
    whole = bootstrap_ci(scores, n_resamples=300, seed=5)
    monkeypatch.setattr(bootstrap_module, "_CHUNK_ELEMENTS", 37 * 7)  # 7 resamples per block
    assert bootstrap_ci(scores, n_resamples=300, seed=5) == whole


def test_mapping_is_read_in_sorted_id_order(scores):
    ids = [f"s{i:03d}" for i in range(scores.size)]
    shuffled = dict(reversed(list(zip(ids, scores, strict=True))))
    assert bootstrap_ci(shuffled, seed=2) == bootstrap_ci(scores, seed=2)


def test_estimate_is_the_mean_and_the_interval_brackets_it(scores):
    ci = bootstrap_ci(scores)
    assert ci.estimate == pytest.approx(scores.mean())
    assert ci.low < ci.estimate < ci.high
    assert ci.estimate in ci and 2.0 not in ci


def test_constant_values_give_a_zero_width_interval():
    ci = bootstrap_ci([0.5] * 10)
    assert (ci.low, ci.estimate, ci.high) == (0.5, 0.5, 0.5)


def test_bca_equals_reference_loop(scores):
    ci = bootstrap_ci(scores, n_resamples=400, seed=9, method="bca")
    assert ci.method == "bca"
    assert_matches(ci, reference_bca([scores], mean, 400, 9))


def test_bca_agrees_with_scipy_on_skewed_data():
    """Independent check of the BCa formula: scipy draws other resamples, so loosely."""
    data = np.random.default_rng(11).exponential(size=150)
    ours = bootstrap_ci(data, n_resamples=20000, seed=1, method="bca")
    theirs = scipy.stats.bootstrap(
        (data,), np.mean, n_resamples=20000, method="BCa", random_state=1
    ).confidence_interval
    width = theirs.high - theirs.low
    assert ours.low == pytest.approx(theirs.low, abs=0.05 * width)
    assert ours.high == pytest.approx(theirs.high, abs=0.05 * width)
    # and the skew correction is real: BCa sits to the right of the percentile interval
    percentile = bootstrap_ci(data, n_resamples=20000, seed=1)
    assert ours.low > percentile.low and ours.high > percentile.high


# --- corpus-level ratio form -----------------------------------------------------------------


def test_ratio_ci_equals_reference_loop():
    rng = np.random.default_rng(3)
    den = rng.integers(5, 200, size=41).astype(float)  # reference characters
    num = rng.binomial(den.astype(int), 0.1).astype(float)  # edits
    ci = bootstrap_ratio_ci(num, den, n_resamples=500, seed=4)
    assert_matches(ci, reference_percentile([num, den], ratio, 500, 4))
    assert ci.estimate == pytest.approx(num.sum() / den.sum())
    bca = bootstrap_ratio_ci(num, den, n_resamples=500, seed=4, method="bca")
    assert_matches(bca, reference_bca([num, den], ratio, 500, 4))


def test_ratio_form_differs_from_mean_of_ratios():
    """Thirty short references (10 characters, one error each) and ten perfect 1000-character
    pages: the corpus CER is 30 / 10300, the mean of per-sample CERs 30 * 0.1 / 40 = 0.075.
    The ratio form reports the former, and the two intervals do not even overlap."""
    edits = [1.0] * 30 + [0.0] * 10
    ref_chars = [10.0] * 30 + [1000.0] * 10
    corpus = bootstrap_ratio_ci(edits, ref_chars, seed=0)
    per_sample = bootstrap_ci([e / r for e, r in zip(edits, ref_chars, strict=True)], seed=0)
    assert corpus.estimate == pytest.approx(30 / 10300)
    assert per_sample.estimate == pytest.approx(0.075)
    assert corpus.high < per_sample.low
    assert corpus.low > 0


def test_ratio_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"denominators: denominator -1\.0 at position 1"):
        bootstrap_ratio_ci([1, 2], [3, -1])
    with pytest.raises(ValueError, match="sum to 0"):
        bootstrap_ratio_ci([1, 2], [0, 0])
    with pytest.raises(ValueError, match=r"different lengths.*numerators: 3.*denominators: 2"):
        bootstrap_ratio_ci([1, 2, 3], [3, 4])
    # most denominators zero: some resample draws only those, and the ratio is undefined
    with pytest.raises(ValueError, match="zero denominator"):
        bootstrap_ratio_ci([1.0] + [0.0] * 4, [1.0] + [0.0] * 4, n_resamples=2000)


# --- paired forms ----------------------------------------------------------------------------


def test_paired_delta_equals_reference_loop(scores):
    other = np.clip(scores + np.random.default_rng(1).normal(0.05, 0.05, scores.size), 0, 1)
    ci = paired_bootstrap_delta(scores, other, n_resamples=500, seed=8)
    assert_matches(ci, reference_percentile([other - scores], mean, 500, 8))
    assert ci.estimate == pytest.approx(other.mean() - scores.mean())


def test_paired_delta_pairs_mappings_on_ids():
    a = {"x": 0.1, "y": 0.5, "z": 0.9}
    b = {"z": 1.0, "x": 0.3, "y": 0.5}  # other order, same samples
    assert paired_bootstrap_delta(a, b, seed=1) == paired_bootstrap_delta(
        [0.1, 0.5, 0.9], [0.3, 0.5, 1.0], seed=1
    )
    with pytest.raises(ValueError, match=r"1 sample\(s\) only in b: 'w'"):
        paired_bootstrap_delta(a, {**b, "w": 0.0})


def test_paired_is_narrower_than_independent_intervals():
    """Why pairing matters: per-sample difficulty cancels out of the delta."""
    rng = np.random.default_rng(2)
    difficulty = rng.uniform(0, 1, 200)
    a = difficulty
    b = difficulty + 0.02 + rng.normal(0, 0.01, 200)
    delta = paired_bootstrap_delta(a, b)
    ca, cb = bootstrap_ci(a), bootstrap_ci(b)
    assert delta.low > 0  # the improvement is detected...
    assert ca.high > cb.low  # ...although the two runs' own intervals overlap


def test_paired_ratio_delta_equals_reference_loop():
    rng = np.random.default_rng(5)
    den = rng.integers(20, 100, size=30).astype(float)
    a_num = rng.binomial(den.astype(int), 0.2).astype(float)
    b_num = rng.binomial(den.astype(int), 0.15).astype(float)
    ci = paired_bootstrap_ratio_delta(a_num, den, b_num, den, n_resamples=500, seed=6)
    assert_matches(ci, reference_percentile([a_num, den, b_num, den], ratio_delta, 500, 6))
    bca = paired_bootstrap_ratio_delta(
        a_num, den, b_num, den, n_resamples=500, seed=6, method="bca"
    )
    assert_matches(bca, reference_bca([a_num, den, b_num, den], ratio_delta, 500, 6))


def test_delta_ci_covers_the_true_difference_about_95_percent_of_the_time():
    """Over 200 seeded datasets with a known delta of 0.1, the 95% CI misses it about 10
    times; the bound is the binomial 99.9% range for a 5% miss rate."""
    misses = 0
    for trial in range(200):
        rng = np.random.default_rng(1000 + trial)
        a = rng.normal(0.6, 0.15, 60)
        b = a + 0.1 + rng.normal(0, 0.1, 60)
        if 0.1 not in paired_bootstrap_delta(a, b, n_resamples=500, seed=trial):
            misses += 1
    low, high = scipy.stats.binom.interval(0.999, 200, 0.05)
    assert low <= misses <= high


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "values: no samples"),
        ([0.1, float("nan"), 0.3], r"value nan at position 1 is not a finite number"),
        ([0.1, "x"], r"every value must be a number at position 1"),
        ([[0.1, 0.2]], r"1-D"),
        ({"a": 0.1, "b": float("inf")}, r"value inf at sample 'b'"),
    ],
)
def test_bad_values_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_resamples": 0}, "n_resamples must be an integer >= 1"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"confidence": 95}, "confidence must be strictly between 0 and 1"),
        ({"method": "bc"}, "method must be 'percentile' or 'bca'"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci([0.1, 0.2], **kwargs)


def test_bca_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="at least 2 samples"):
        bootstrap_ci([0.3], method="bca")
    with pytest.raises(ValueError, match="paired samples: a has 2 values and b has 3"):
        paired_bootstrap_delta([1, 2], [1, 2, 3])
