"""Ordering metrics: hand-worked goldens, scipy as the reference for tau and rho, a direct
reading of the definitions for the others, and malformed answers."""

from __future__ import annotations

import random
from importlib.metadata import entry_points

import pytest
import vlmhb_ordering_metrics as om
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from vlmhb_ordering_metrics import (
    METRICS,
    adjacent_pairs,
    exact_order,
    kendall_tau,
    position_accuracy,
    read_order,
    spearman_rho,
)


def test_hand_worked_three_pages():
    # truth 1,2,3; answer 2,1,3: y = [1, 0, 2]. Pairs (1,2) discordant, (1,3), (2,3)
    # concordant: tau = (2 - 1) / 3. d = [1, -1, 0]: rho = 1 - 6*2 / (3*8) = 0.5.
    # Slots: only page 3 in place -> 1/3. Neighbour pairs (1,2) wrong, (2,3) right -> 1/2.
    p, r = [[2, 1, 3]], [[1, 2, 3]]
    assert kendall_tau(p, r).value == pytest.approx(1 / 3)
    assert spearman_rho(p, r).value == pytest.approx(0.5)
    assert exact_order(p, r).value == 0.0
    assert position_accuracy(p, r).value == pytest.approx(1 / 3)
    result = adjacent_pairs(p, r)
    assert result.value == 0.5
    assert result.details["correct_pairs"] == 1 and result.details["pairs"] == 2


def test_reversed_and_perfect_orders():
    truth = [["a", "b", "c", "d"]]
    for metric, perfect, reverse in (
        (kendall_tau, 1.0, -1.0),
        (spearman_rho, 1.0, -1.0),
        (exact_order, 1.0, 0.0),
        (position_accuracy, 1.0, 0.0),
        (adjacent_pairs, 1.0, 0.0),
    ):
        assert metric([["a", "b", "c", "d"]], truth).value == perfect
        assert metric([["d", "c", "b", "a"]], truth).value == reverse


def test_a_shifted_block_is_forgiven_by_adjacent_pairs_but_not_by_slots():
    # last page moved to the front: every page leaves its slot, but 3 of 4 neighbour pairs
    # stay in order
    p, r = [[5, 1, 2, 3, 4]], [[1, 2, 3, 4, 5]]
    assert position_accuracy(p, r).value == 0.0
    assert adjacent_pairs(p, r).value == pytest.approx(3 / 4)
    assert adjacent_pairs(p, r).details["per_sample_correct_pairs"] == [3]


def test_one_page_has_one_order():
    for metric in METRICS:
        assert metric(["[7]"], [[7]]).value == 1.0


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("pages 1, 2, 3", "not JSON"),
        ("", "empty answer"),
        ('{"pages": [1, 2, 3]}', "without an 'order' key"),
        ('"1,2,3"', "expected a list"),
        ("[1, 2, 2]", "repeats 2"),
        ("[1, 2]", "misses 3"),
        ("[1, 2, 3, 4]", "has unknown 4"),
        ("[1, null, 3]", "not a page id"),
        ("[1, true, 3]", "not a page id"),
        ("[1, [2], 3]", "not a page id"),
    ],
)
def test_malformed_answers_score_worst_and_are_counted(answer, reason):
    predictions, references = [answer, "[1, 2, 3]"], [[1, 2, 3], [1, 2, 3]]
    for metric in METRICS:
        result = metric(predictions, references)
        worst = -1.0 if metric in (kendall_tau, spearman_rho) else 0.0
        assert result.per_sample == [worst, 1.0]
        assert result.details["malformed"] == 1
        assert result.details["malformed_samples"][0]["index"] == 0
        assert reason in result.details["malformed_samples"][0]["reason"]


def test_accepted_answer_forms():
    truth = [[3, 1, 2]]
    for answer in (
        [3, 1, 2],
        "[3, 1, 2]",
        ' {"order": [3, 1, 2]} ',
        '```json\n{"order": ["3", "1", "2"]}\n```',
        "[3.0, 1, 2]",
        {"order": ("3", "1", "2")},
    ):
        assert exact_order([answer], truth).value == 1.0, answer
    assert read_order('["p1", "p2"]') == ["p1", "p2"]


def test_bad_references_name_the_sample():
    with pytest.raises(ValueError, match=r"references\[1\] is not a valid order: repeats 2"):
        kendall_tau([[1], [1, 2]], [[1], [2, 2]])
    with pytest.raises(ValueError, match=r"references\[0\] is an empty order"):
        kendall_tau([[1]], [[]])
    with pytest.raises(ValueError, match="differ in length: 2 predictions, 1 references"):
        kendall_tau([[1], [1]], [[1]])
    with pytest.raises(ValueError, match="must be a list with one order per sample"):
        kendall_tau("[1]", "[1]")
    with pytest.raises(ValueError, match="unknown parameter"):
        kendall_tau([[1]], [[1]], variant="b")


def test_empty_corpus_scores_zero():
    for metric in METRICS:
        result = metric([], [])
        assert result.value == 0.0 and result.per_sample == []


PERMUTATION = st.integers(min_value=2, max_value=12).flatmap(
    lambda n: st.permutations(list(range(1, n + 1)))
)


@settings(max_examples=300, deadline=None)
@given(PERMUTATION)
def test_tau_and_rho_equal_scipy(prediction):
    truth = sorted(prediction)
    rng = random.Random(len(prediction))
    rng.shuffle(truth)  # the true order is itself arbitrary
    where = {page: k for k, page in enumerate(prediction)}
    y = [where[page] for page in truth]
    x = list(range(len(truth)))
    tau = kendall_tau([prediction], [truth]).value
    rho = spearman_rho([prediction], [truth]).value
    assert tau == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(PERMUTATION)
def test_slot_and_pair_metrics_follow_their_definitions(prediction):
    truth = sorted(prediction)
    n = len(truth)
    assert exact_order([prediction], [truth]).value == float(list(prediction) == truth)
    slots = sum(prediction[k] == truth[k] for k in range(n)) / n
    assert position_accuracy([prediction], [truth]).value == pytest.approx(slots)
    right = sum(prediction.index(truth[k]) < prediction.index(truth[k + 1]) for k in range(n - 1))
    assert adjacent_pairs([prediction], [truth]).value == pytest.approx(right / (n - 1))


def test_corpus_value_is_the_mean_over_samples():
    rng = random.Random(16)
    predictions, references = [], []
    for _ in range(200):
        truth = list(range(rng.randint(2, 8)))
        guess = truth[:]
        rng.shuffle(guess)
        predictions.append(str(guess) if rng.random() < 0.9 else "no idea")
        references.append(truth)
    for metric in METRICS:
        result = metric(predictions, references)
        assert result.value == pytest.approx(sum(result.per_sample) / len(result.per_sample))
        assert result.details["malformed"] == predictions.count("no idea")


def test_entry_points_identity_and_public_api():
    found = {ep.name: ep for ep in entry_points(group="vlmhyperbench.metrics")}
    for metric in METRICS:
        assert found[metric.name].load() is metric
        assert metric.key == f"{metric.name}@1" and metric.variants == ()
        result = metric([[1, 2]], [[1, 2]])
        assert (result.key, result.column) == (metric.key, metric.name)
    assert set(om.__all__) >= {"kendall_tau", "spearman_rho", "MetricResult", "METRICS"}


def test_readme_numbers():
    predictions = ["[2, 1, 3]", '{"order": [1, 2, 3]}', "the pages are 1, 2, 3"]
    references = [[1, 2, 3]] * 3
    assert kendall_tau(predictions, references).per_sample == pytest.approx([1 / 3, 1, -1])
    assert exact_order(predictions, references).value == pytest.approx(1 / 3)
    assert adjacent_pairs(predictions, references).details["correct_pairs"] == 3
