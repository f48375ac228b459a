"""ANLS per Biten et al. (ICCV 2019) / DocVQA: goldens worked by hand, then properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmhb_text_metrics import anls


def test_one_edit_in_five_characters():
    # NL = 1/5 = 0.2 < 0.5, so s = 0.8
    assert anls(["Helo!"], ["Hello!"][:1]).per_sample == [pytest.approx(1 - 1 / 6)]
    assert anls(["helo"], ["hello"]).value == pytest.approx(0.8)


def test_best_of_several_accepted_answers():
    # against "1 000": NL = 1/5; against "1000": NL = 0 -> the best is 1.0
    assert anls(["1000"], [["1 000", "1000"]]).value == 1.0
    result = anls(["10 July", "abc"], [["July 10", "10 jul"], "xyz"])
    # "10 july" vs "10 jul": NL = 1/7 -> 6/7; "abc" vs "xyz": NL = 1 -> 0
    assert result.per_sample == [pytest.approx(6 / 7), 0.0]
    assert result.value == pytest.approx(3 / 7)


def test_threshold_is_strict_as_in_the_paper():
    # "ab" vs "ax": NL = 0.5, not < 0.5, so the score is 0
    assert anls(["ax"], ["ab"]).value == 0.0
    # with NL = 2/5 = 0.4 < 0.5 the score is 0.6
    assert anls(["abcxy"], ["abcde"]).value == pytest.approx(0.6)
    assert anls(["abcxy"], ["abcde"], threshold=0.3).value == 0.0


def test_docvqa_normalisation_is_the_default_and_can_be_switched_off():
    assert anls(["  PARIS  france "], ["paris france"]).value == 1.0
    assert anls(["PARIS"], ["paris"], lowercase=False).value == 0.0


def test_both_empty_is_a_perfect_match():
    assert anls([""], [""]).value == 1.0
    assert anls([""], ["x"]).value == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match=r"references\[0\] is an empty list"):
        anls(["a"], [[]])
    with pytest.raises(ValueError, match=r"references\[1\]\[1\] is NoneType"):
        anls(["a", "b"], ["a", ["b", None]])
    with pytest.raises(ValueError, match="threshold"):
        anls(["a"], ["a"], threshold=0)


WORD = st.text(alphabet="abcабвё ", max_size=10)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(WORD, WORD), min_size=1, max_size=6))
def test_bounds_identity_and_symmetry(pairs):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    result = anls(hyps, refs)
    assert 0.0 <= result.value <= 1.0
    assert all(0.0 <= s <= 1.0 for s in result.per_sample)
    assert anls(hyps, hyps).value == 1.0
    assert anls(refs, hyps).per_sample == pytest.approx(result.per_sample)


# --- the variants other tools print as "anls" (issue #19) ---------------------------------


def _lev(a: str, b: str) -> int:
    """Unit-cost edit distance, the textbook dynamic programme (independent of rapidfuzz)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _reference_anls(answers: list[str], prediction: str, compat: str | None, tau: float) -> float:
    """Each definition written out from its formula (see anls.py's docstring for sources)."""
    scores = []
    for a in answers:
        if compat is None:  # the paper: normalise, divide by the normalised lengths, NL < tau
            a2, o2 = " ".join(a.lower().split()), " ".join(prediction.lower().split())
            n = max(len(a2), len(o2))
            nl = _lev(a2, o2) / n if n else 0.0
            scores.append(1 - nl if nl < tau else 0.0)
            continue
        # lmms-eval and VLMEvalKit (DocVQA / InfoVQA): normalised distance over raw lengths;
        # keep sim == 1 - tau
        n = max(len(a.upper()), len(prediction.upper()))
        a2, o2 = " ".join(a.strip().lower().split()), " ".join(prediction.strip().lower().split())
        sim = 1 - (_lev(a2, o2) / n if n else 0.0)
        scores.append(0.0 if sim < 1 - tau else sim)
    return max(scores)


@pytest.mark.parametrize(
    ("prediction", "answer", "ours", "tools"),
    [
        # distance exactly at the threshold: 1 edit / 2 characters = 0.5, kept by the tools
        ("ax", "ab", 0.0, 0.5),
        # just under: 2 edits / 5 = 0.4 in every definition
        ("abcxy", "abcde", 0.6, 0.6),
        # whitespace-only difference: every definition collapses it
        ("a  b", "a b", 1.0, 1.0),
        # trailing spaces: the tools divide the normalised distance (1) by the raw length (7)
        ("abxd   ", "abcd", 0.75, 1 - 1 / 7),
        ("PARIS", "paris", 1.0, 1.0),
        # empty answer against a non-empty reference
        ("", "abc", 0.0, 0.0),
        # both empty
        ("", "", 1.0, 1.0),
        # an empty reference: only an empty (after normalisation) answer matches
        ("   ", "", 1.0, 1.0),
        ("x", "", 0.0, 0.0),
        # upper() lengths: "ß" upper-cases to "SS", so the tools divide 1 edit by 2
        ("ß", "s", 0.0, 0.5),
    ],
)
def test_variants_on_hand_worked_cases(prediction, answer, ours, tools):
    """lmms-eval's and VLMEvalKit's DocVQA scorers are one formula (RRC's script)."""
    assert anls([prediction], [answer]).value == pytest.approx(ours)
    assert anls([prediction], [answer], compat="lmms-eval").value == pytest.approx(tools)
    assert anls([prediction], [answer], compat="vlmevalkit").value == pytest.approx(tools)


def test_vlmevalkit_variant_keeps_a_similarity_of_exactly_one_half():
    """Issue 29: version 1 reproduced VLMEvalKit's long-document scorer (raw strings, 0.5
    dropped), about 10 points below what VLMEvalKit reports for DocVQA / InfoVQA."""
    result = anls(["ax", "PARIS", "a  b"], ["ab", "paris", "a b"], compat="vlmevalkit")
    assert result.per_sample == [0.5, 1.0, 1.0]
    assert result.key == "anls@2"


def test_variants_take_the_best_reference_and_name_their_column():
    result = anls(["ax"], [["zz", "ab"]], compat="lmms-eval")
    assert result.value == 0.5
    assert (result.key, result.column, result.variant) == ("anls@2", "anls@lmms-eval", "lmms-eval")
    assert result.params == {"compat": "lmms-eval", "threshold": 0.5}
    ours = anls(["ax"], ["ab"])
    assert ours.column == "anls" and ours.params["lowercase"] is True


def test_variants_refuse_normalisation_options():
    with pytest.raises(ValueError, match="compat='vlmevalkit' fixes its own normalisation"):
        anls(["a"], ["a"], compat="vlmevalkit", lowercase=True)


TEXT = st.text(alphabet="aAbB ßİё\tЁ", max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(TEXT, st.lists(TEXT, min_size=1, max_size=3)), min_size=1, max_size=5),
    st.sampled_from([None, "lmms-eval", "vlmevalkit"]),
    st.sampled_from([0.5, 0.25, 1.0]),
)
def test_variants_match_their_formulas_on_random_pairs(pairs, compat, tau):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    result = anls(hyps, refs, compat=compat, threshold=tau)
    expected = [_reference_anls(r, h, compat, tau) for h, r in pairs]
    assert result.per_sample == pytest.approx(expected, abs=1e-12)


def test_variants_match_their_formulas_on_seeded_perturbations():
    """Perturbed Russian/English answers, as in the issue's measurement, so that the
    threshold and the raw-length rules are hit often."""
    import random

    rng = random.Random(19)
    words = ["Иванов", "Пётр", "PARIS", "10 July", "1 000", "street", "ул. Ленина"]
    hyps, refs = [], []
    for _ in range(2000):
        ref = rng.choice(words)
        hyp = list(ref)
        for _ in range(rng.randint(0, 4)):
            op, k = rng.randint(0, 3), rng.randint(0, len(hyp))
            if op == 0 and hyp:
                del hyp[min(k, len(hyp) - 1)]
            elif op == 1:
                hyp.insert(k, rng.choice("aeЁ  x"))
            elif op == 2:
                hyp = [c.swapcase() for c in hyp]
            else:
                hyp.append(" ")
        hyps.append("".join(hyp))
        refs.append(ref)
    for compat in (None, "lmms-eval", "vlmevalkit"):
        got = anls(hyps, refs, compat=compat).per_sample
        assert got == pytest.approx(
            [_reference_anls([r], h, compat, 0.5) for h, r in zip(hyps, refs, strict=True)]
        )
