"""Permutation tests against plain loops, McNemar against scipy, Holm against a worked example."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
from vlmhb_statistics import (
    holm,
    mcnemar,
    paired_permutation_ratio_test,
    paired_permutation_test,
)
from vlmhb_statistics import significance as significance_module

# --- permutation test --------------------------------------------------------------------------


def reference_permutation_p(a, b, n_permutations, seed):
    """One random swap pattern at a time, as the textbook describes it."""
    rng = np.random.default_rng(seed)
    diff = [float(y) - float(x) for x, y in zip(a, b, strict=True)]
    n = len(diff)
    observed = abs(sum(diff) / n)
    hits = 0
    for _ in range(n_permutations):
        swap = rng.random(n) < 0.5  # a fair coin per sample
        permuted = abs(sum(-d if s else d for d, s in zip(diff, swap, strict=True)) / n)
        hits += permuted >= observed - 1e-12
    return (hits + 1) / (n_permutations + 1)


def test_permutation_p_equals_reference_loop_on_continuous_data():
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 1, 45)
    b = a + rng.normal(0.03, 0.2, 45)
    result = paired_permutation_test(a, b, n_permutations=3000, seed=2)
    assert result.p_value == reference_permutation_p(a, b, 3000, 2)
    assert (result.n_permutations, result.exact, result.seed, result.n_samples) == (
        3000,
        False,
        2,
        45,
    )
    assert result.delta == pytest.approx(np.mean(b - a))


def test_permutation_counts_ties_with_the_observed_value():
    """Scores on a coarse grid (exact in binary) make many permutations tie with the data."""
    a = [0.0, 0.25, 0.5, 0.5, 1.0, 0.75, 0.25, 0.5, 0.0, 1.0, 0.5, 0.25, 0.75, 0.5, 0.25]
    b = [0.25, 0.25, 0.75, 0.5, 1.0, 1.0, 0.5, 0.5, 0.25, 0.75, 0.75, 0.25, 1.0, 0.75, 0.5]
    result = paired_permutation_test(a, b, n_permutations=2000, seed=0)
    assert result.p_value == reference_permutation_p(a, b, 2000, 0)


def test_blocks_do_not_change_the_p_value(monkeypatch):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=31), rng.uniform(size=31)
    whole = paired_permutation_test(a, b, n_permutations=999, seed=3)
    monkeypatch.setattr(significance_module, "_CHUNK_ELEMENTS", 31 * 10)
    assert paired_permutation_test(a, b, n_permutations=999, seed=3) == whole


def test_few_samples_are_enumerated_exactly():
    a = [0.2, 0.4, 0.1, 0.9, 0.5, 0.3]
    b = [0.5, 0.6, 0.1, 1.0, 0.9, 0.2]
    diff = [y - x for x, y in zip(a, b, strict=True)]
    observed = abs(sum(diff))
    patterns = list(itertools.product((1, -1), repeat=len(diff)))
    hits = sum(
        abs(sum(s * d for s, d in zip(signs, diff, strict=True))) >= observed - 1e-12
        for signs in patterns
    )
    result = paired_permutation_test(a, b, n_permutations=10000)
    assert result.exact and result.n_permutations == 64
    assert result.p_value == hits / 64


def test_all_positive_differences_give_the_smallest_exact_p():
    result = paired_permutation_test([0, 0, 0, 0, 0], [1, 2, 1, 3, 1])
    assert result.p_value == 2 / 32  # only the data and its mirror image are as extreme


def test_no_difference_gives_p_one():
    assert paired_permutation_test([0.3] * 50, [0.3] * 50).p_value == 1.0


def test_p_value_is_never_zero():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=200)
    result = paired_permutation_test(a, a + 1.0, n_permutations=500)
    assert result.p_value == 1 / 501


def reference_ratio_permutation_p(an, ad, bn, bd, n_permutations, seed):
    rng = np.random.default_rng(seed)
    n = len(an)
    observed = abs(sum(bn) / sum(bd) - sum(an) / sum(ad))
    hits = 0
    for _ in range(n_permutations):
        swap = rng.random(n) < 0.5  # a fair coin per sample
        pa_n = sum(bn[i] if swap[i] else an[i] for i in range(n))
        pa_d = sum(bd[i] if swap[i] else ad[i] for i in range(n))
        pb_n = sum(an[i] if swap[i] else bn[i] for i in range(n))
        pb_d = sum(ad[i] if swap[i] else bd[i] for i in range(n))
        hits += abs(pb_n / pb_d - pa_n / pa_d) >= observed - 1e-12
    return (hits + 1) / (n_permutations + 1)


def test_ratio_permutation_equals_reference_loop():
    rng = np.random.default_rng(8)
    den = rng.integers(10, 300, size=25)
    an = rng.binomial(den, 0.12)
    bn = rng.binomial(den, 0.08)
    # B's references were tokenised differently: the denominators differ per run too
    bd = den + rng.integers(0, 5, size=25)
    args = [x.astype(float).tolist() for x in (an, den, bn, bd)]
    result = paired_permutation_ratio_test(*args, n_permutations=2000, seed=5)
    assert result.p_value == reference_ratio_permutation_p(*args, 2000, 5)
    assert result.delta == pytest.approx(bn.sum() / bd.sum() - an.sum() / den.sum())


def test_bad_permutation_input_is_named():
    with pytest.raises(ValueError, match="n_permutations must be an integer >= 1"):
        paired_permutation_test([1, 2], [1, 2], n_permutations=0)
    with pytest.raises(TypeError, match=r"both be mappings .* or both aligned sequences"):
        paired_permutation_test({"x": 1.0}, [1.0])
    with pytest.raises(ValueError, match=r"b: value nan at sample 'y'"):
        paired_permutation_test({"x": 1.0, "y": 2.0}, {"x": 1.0, "y": float("nan")})
    with pytest.raises(ValueError, match="b_denominators: the denominators sum to 0"):
        paired_permutation_ratio_test([1], [2], [1], [0])


# --- McNemar ------------------------------------------------------------------------------------


def correctness(a_only: int, b_only: int, both: int = 7, neither: int = 4):
    a = [True] * a_only + [False] * b_only + [True] * both + [False] * neither
    b = [False] * a_only + [True] * b_only + [True] * both + [False] * neither
    return a, b


@pytest.mark.parametrize(("a_only", "b_only"), [(0, 1), (3, 1), (1, 9), (5, 5), (0, 12), (2, 22)])
def test_mcnemar_exact_matches_scipy_binomtest(a_only, b_only):
    result = mcnemar(*correctness(a_only, b_only))
    expected = scipy.stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
    assert result.method == "exact"
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert (result.a_only, result.b_only, result.n_discordant) == (a_only, b_only, a_only + b_only)


@pytest.mark.parametrize(("a_only", "b_only"), [(12, 13), (20, 10), (5, 40), (100, 80), (30, 31)])
def test_mcnemar_chi2_matches_scipy(a_only, b_only):
    result = mcnemar(*correctness(a_only, b_only))
    statistic = (abs(a_only - b_only) - 1) ** 2 / (a_only + b_only)
    assert result.method == "chi2"
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(scipy.stats.chi2.sf(statistic, df=1), rel=1e-10)


def test_mcnemar_switches_at_exact_below():
    assert mcnemar(*correctness(10, 14)).method == "exact"  # 24 discordant
    assert mcnemar(*correctness(10, 15)).method == "chi2"  # 25 discordant
    assert mcnemar(*correctness(10, 15), exact_below=100).method == "exact"


def test_mcnemar_edge_cases():
    same = mcnemar([True, False, True], [True, False, True])
    assert (same.p_value, same.n_discordant) == (1.0, 0)
    # equal discordant counts: the continuity correction is clamped, p = 1
    assert mcnemar(*correctness(30, 30)).p_value == 1.0
    assert mcnemar([1, 0, 1], [0, 0, 1]).a_only == 1  # 0/1 accepted as well as booleans


def test_mcnemar_pairs_on_ids_and_names_bad_values():
    result = mcnemar({"q1": True, "q2": False}, {"q2": True, "q1": True})
    assert (result.a_only, result.b_only) == (0, 1)
    with pytest.raises(ValueError, match=r"b_correct: value 0\.5 at sample 'q2'"):
        mcnemar({"q1": True, "q2": False}, {"q1": True, "q2": 0.5})
    with pytest.raises(ValueError, match=r"1 sample\(s\) only in a: 'q3'"):
        mcnemar({"q1": 1, "q3": 0}, {"q1": 1})


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_hand_worked_example():
    """m = 4. Sorted: 0.005, 0.01, 0.03, 0.04.
    times (4, 3, 2, 1): 0.02, 0.03, 0.06, 0.04; running maximum: 0.02, 0.03, 0.06, 0.06.
    Back in input order (0.01, 0.04, 0.03, 0.005) -> (0.03, 0.06, 0.06, 0.02)."""
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_ties_and_single_values():
    assert holm([0.5, 0.5, 0.01]) == pytest.approx([1.0, 1.0, 0.03])
    assert holm([0.2]) == [0.2]
    assert holm([0.02, 0.02]) == pytest.approx([0.04, 0.04])


def test_holm_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"p_values: 1\.5 at position 1 is not a probability"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match="p_values: value nan at position 0"):
        holm([float("nan")])
    assert holm([]) == []
