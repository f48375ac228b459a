"""VQA accuracy (VQAv2) and relaxed accuracy (ChartQA): hand-worked goldens, then the
package against the formulas written out here, on seeded random answers."""

from __future__ import annotations

import random
from itertools import combinations

import pytest
from vlmhb_text_metrics import relaxed_accuracy, vqa_accuracy, vqa_normalize

# --- VQA accuracy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Two", "2"),  # number words become digits, after lowercasing
        ("the red car.", "red car"),  # articles go, a final period goes
        ("3.5", "3.5"),  # a period before a digit stays
        ("dont", "don't"),  # the contraction gets its apostrophe back
        ("yes!", "yes"),  # "!" not touching a space is replaced by a space, then split away
        ("black-and-white", "black and white"),  # "-" not touching a space -> space
        ("a - b", "b"),  # touching a space -> deleted ("a" is an article)
        ("1,000", "1000"),  # digit-comma-digit: every listed mark is deleted
        ("  A\tdog\n", "dog"),
        ("", ""),
    ],
)
def test_vqa_normalisation_by_hand(raw, normalised):
    assert vqa_normalize(raw) == normalised


def test_vqa_accuracy_leave_one_out_by_hand():
    # 10 annotators, 3 say "2": leaving out a matching one leaves 2 matches (2/3), leaving
    # out another leaves 3 (1): (3 * 2/3 + 7 * 1) / 10 = 0.9
    answers = ["2", "2", "two", "3", "3", "3", "3", "3", "3", "3"]
    assert vqa_accuracy(["Two."], [answers]).value == pytest.approx(0.9)
    # 4 or more matches: every 9-subset has at least 3 -> 1.0
    assert vqa_accuracy(["3"], [answers]).value == 1.0
    # 1 match: (1 * 0 + 9 * 1/3) / 10 = 0.3
    assert vqa_accuracy(["3"], [["3"] + ["x"] * 9]).value == pytest.approx(0.3)
    assert vqa_accuracy(["no"], [answers]).value == 0.0


def test_vqa_accuracy_direct_is_the_bare_formula():
    answers = ["2", "2", "two", "3", "3", "3", "3", "3", "3", "3"]
    assert vqa_accuracy(["2"], [answers], averaging="direct").value == 1.0
    assert vqa_accuracy(["2"], [["2", "x"]], averaging="direct").value == pytest.approx(1 / 3)
    assert vqa_accuracy(["2"], ["2"], averaging="direct").value == pytest.approx(1 / 3)


def test_vqa_accuracy_bad_input():
    with pytest.raises(ValueError, match=r"references\[0\] has one answer"):
        vqa_accuracy(["a"], ["a"])
    with pytest.raises(ValueError, match="averaging must be one of"):
        vqa_accuracy(["a"], [["a", "a"]], averaging="mean")
    with pytest.raises(ValueError, match=r"references\[0\] is an empty list"):
        vqa_accuracy(["a"], [[]])


def _vqa_reference(prediction: str, answers: list[str], averaging: str) -> float:
    """The paper's formula, with the script's explicit loop over the n-1 subsets."""
    o = vqa_normalize(prediction)
    a = [vqa_normalize(x) for x in answers]
    if averaging == "direct":
        return min(sum(x == o for x in a) / 3, 1)
    subsets = list(combinations(range(len(a)), len(a) - 1))
    return sum(min(sum(a[k] == o for k in s) / 3, 1) for s in subsets) / len(subsets)


@pytest.mark.parametrize("averaging", ["leave-one-out", "direct"])
def test_vqa_accuracy_matches_the_formula_on_random_answers(averaging):
    rng = random.Random(16)
    pool = ["2", "two", "Two.", "3", "the cat", "cat", "dont", "don't", "yes", "no", ""]
    hyps, refs = [], []
    for _ in range(500):
        hyps.append(rng.choice(pool))
        refs.append([rng.choice(pool) for _ in range(rng.choice([2, 3, 5, 10]))])
    got = vqa_accuracy(hyps, refs, averaging=averaging).per_sample
    assert got == pytest.approx(
        [_vqa_reference(h, r, averaging) for h, r in zip(hyps, refs, strict=True)]
    )


# --- relaxed accuracy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "answer", "correct"),
    [
        ("105", "100", True),  # exactly 5% off: within (<=)
        ("105.1", "100", False),
        ("95", "100", True),
        ("-1.04", "-1", True),  # relative to |reference|
        ("12%", "0.12", True),  # "%" divides by 100
        ("0.12", "12%", True),
        ("12 %", "12%", True),  # float("12 ") after removing "%" parses: 0.12 both
        ("12% ", "12%", False),  # does not end with "%": not a number, and not the same text
        ("0", "0", True),  # a zero reference compares as text
        ("0.0", "0", False),
        ("Paris", "paris", True),  # text: case-blind exact match
        ("Paris ", "paris", False),  # ... and nothing else is forgiven
        ("1,000", "1000", False),  # "1,000" is no number for float()
        (" 1000 ", "1000", True),  # float() ignores surrounding whitespace
        ("", "", True),
        ("", "5", False),
    ],
)
def test_relaxed_accuracy_by_hand(prediction, answer, correct):
    assert relaxed_accuracy([prediction], [answer]).value == float(correct)


def test_relaxed_accuracy_best_answer_tolerance_and_bad_input():
    assert relaxed_accuracy(["10"], [["twelve", "10.4"]]).value == 1.0
    assert relaxed_accuracy(["110"], ["100"], tolerance=0.1).value == 1.0
    assert relaxed_accuracy(["110"], ["100"]).params == {
        "tolerance": 0.05,
        **{k: False for k in ("lowercase", "nfkc", "collapse_whitespace")},
        **{k: False for k in ("strip_punctuation", "yo_to_e")},
    }
    with pytest.raises(ValueError, match="tolerance must be a finite number"):
        relaxed_accuracy(["1"], ["1"], tolerance=-0.1)
    with pytest.raises(ValueError, match=r"predictions\[0\] is None"):
        relaxed_accuracy([None], ["1"])


def _relaxed_reference(prediction: str, answer: str) -> bool:
    def number(x: str) -> float | None:
        try:
            return float(x[:-1]) / 100 if x.endswith("%") else float(x)
        except ValueError:
            return None

    p, a = number(prediction), number(answer)
    if p is not None and a is not None and a != 0:
        return abs(p - a) <= 0.05 * abs(a)
    return prediction.lower() == answer.lower()


def test_relaxed_accuracy_matches_the_formula_on_random_answers():
    rng = random.Random(22)
    hyps, refs = [], []
    for _ in range(3000):
        base = rng.choice([100, 3.5, -20, 0, 12])
        answer = rng.choice([f"{base}", f"{base}%", "Yes", "0"])
        shift = rng.choice([0.0, 0.049, 0.05, 0.051, -0.05, 0.5])
        guess = rng.choice([f"{base * (1 + shift):.6g}", f"{base * (1 + shift):.6g}%", "yes", "x"])
        hyps.append(guess)
        refs.append(answer)
    got = relaxed_accuracy(hyps, refs).per_sample
    assert got == [float(_relaxed_reference(h, r)) for h, r in zip(hyps, refs, strict=True)]


@pytest.mark.parametrize(
    ("prediction", "answers", "ours", "lmms"),
    [
        # lmms-eval deletes commas before the VQA rules; ours turns a lone comma into a space
        ("a,b", ["a b"] * 4, 1.0, 0.0),
        ("ab", ["a,b"] * 4, 0.0, 1.0),
        # "what's" is split into "what 's" by lmms-eval; "whats" becomes "what's" in both
        ("whats", ["what's"] * 4, 1.0, 0.0),
        # digit-comma-digit: ours deletes the hyphen too; lmms-eval has no commas left
        ("1000 2000", ["1,000-2,000"] * 4, 0.0, 1.0),
        ("10002000", ["1,000-2,000"] * 4, 1.0, 0.0),
        # question marks go in lmms-eval before the spacing rule
        ("yes", ["yes?"] * 4, 1.0, 1.0),
        ("yes no", ["yes?no"] * 4, 1.0, 0.0),
    ],
)
def test_lmms_eval_variant_processes_answers_as_lmms_eval(prediction, answers, ours, lmms):
    """Issue 29: lmms-eval's TextVQA score removes ',' and '?' and splits off "'s" first."""
    assert vqa_accuracy([prediction], [answers]).value == pytest.approx(ours)
    result = vqa_accuracy([prediction], [answers], compat="lmms-eval")
    assert result.value == pytest.approx(lmms)
    assert result.column == "vqa_accuracy@lmms-eval"


def test_lmms_eval_variant_refuses_what_it_fixes():
    with pytest.raises(ValueError, match="compat='lmms-eval' fixes its own normalisation"):
        vqa_accuracy(["a"], [["a", "a"]], compat="lmms-eval", lowercase=True)
    with pytest.raises(ValueError, match="remove averaging"):
        vqa_accuracy(["a"], [["a", "a"]], compat="lmms-eval", averaging="direct")
    assert "compat" not in vqa_accuracy(["a"], [["a", "a"]]).params  # ours: identity unchanged


def test_relaxed_vlmevalkit_variant_strips_the_prediction():
    """Issue 29: VLMEvalKit strips the prediction before relaxed correctness; lmms-eval
    (and ours) compare it as it is."""
    predictions, references = ["Yes\n", " 12 ", "No"], ["yes", "12.3", " no"]
    assert relaxed_accuracy(predictions, references).per_sample == [0.0, 1.0, 0.0]
    vlmevalkit = relaxed_accuracy(predictions, references, compat="vlmevalkit")
    assert vlmevalkit.per_sample == [1.0, 1.0, 0.0]  # the reference is not stripped
    assert vlmevalkit.column == "relaxed_accuracy@vlmevalkit"
    with pytest.raises(ValueError, match="unknown compat 'lmms'"):
        relaxed_accuracy(["1"], ["1"], compat="lmms")
