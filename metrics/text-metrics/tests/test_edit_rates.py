"""CER and WER: hand-worked goldens, agreement with jiwer, and bad input."""

from __future__ import annotations

import jiwer
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmhb_text_metrics import cer, wer


def test_cer_single_substitution_by_hand():
    # "hallo" -> "hello": one substitution over five reference characters.
    result = cer(["hello"], ["hallo"])
    assert result.value == pytest.approx(0.2)
    assert result.per_sample == [pytest.approx(0.2)]
    assert result.key == "cer@2"
    assert result.details["edits"] == 1 and result.details["reference_units"] == 5


def test_cer_is_corpus_level_not_mean_of_samples():
    # 1 edit / 2 chars and 0 edits / 8 chars: corpus 1/10, while the per-sample mean is 0.25.
    result = cer(["ax", "abcdefgh"], ["ab", "abcdefgh"])
    assert result.value == pytest.approx(0.1)
    assert result.per_sample == [pytest.approx(0.5), 0.0]


def test_wer_by_hand_russian():
    # reference 4 words; prediction drops one and misspells one: 2 edits / 4 words.
    result = wer(["мама мыла рам"], ["мама мыла раму утром"])
    assert result.value == pytest.approx(0.5)
    assert wer.key == "wer@2"


def test_wer_counts_insertions_so_it_can_exceed_one():
    assert wer(["a b c d"], ["a"]).value == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("hyp", "ref"),
    [
        ("hello world", "hello world"),
        ("helo wrld", "hello world"),
        ("  leading and trailing  ", "leading and trailing"),
        ("tab\tinside word", "tab inside word"),
        ("double\t\tgap", "double gap"),
        ("Ёлка зелёная", "елка зеленая"),
        ("", "reference only"),
    ],
)
def test_single_pairs_match_jiwer(hyp, ref):
    assert cer([hyp], [ref]).value == pytest.approx(jiwer.cer(ref, hyp), abs=1e-12)
    assert wer([hyp], [ref]).value == pytest.approx(jiwer.wer(ref, hyp), abs=1e-12)


def test_empty_reference_follows_jiwer_insertion_count():
    # jiwer >= 4: with no reference units at all, the error rate is the insertion count.
    result = cer(["abc", ""], ["", ""])
    assert result.value == 3.0
    assert result.per_sample == [3.0, 0.0]
    assert jiwer.cer(["", ""], ["abc", ""]) == 3.0


def test_normalisation_options_apply_before_scoring():
    assert cer(["HELLO"], ["hello"]).value == 1.0
    assert cer(["HELLO"], ["hello"], lowercase=True).value == 0.0
    assert (
        wer(
            ["ёлка, мир!"], ["Елка мир"], lowercase=True, yo_to_e=True, strip_punctuation=True
        ).value
        == 0.0
    )
    # collapse_whitespace makes a lone tab a word boundary, unlike jiwer's default
    assert wer(["a\tb"], ["a b"]).value == 1.0
    assert wer(["a\tb"], ["a b"], collapse_whitespace=True).value == 0.0


def test_corpus_with_boundary_character_inside_a_text_still_agrees_with_jiwer():
    hyps, refs = ["a\u241eb c", "d e"], ["a\u241eb", "d f"]
    assert wer(hyps, refs).value == pytest.approx(jiwer.wer(refs, hyps))


TEXT = st.text(alphabet=st.sampled_from(list("abcаб ё\t\n\u241e ")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8))
def test_corpus_and_per_sample_values_equal_jiwer(pairs):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    for ours, theirs in ((cer, jiwer.cer), (wer, jiwer.wer)):
        result = ours(hyps, refs)
        assert result.value == pytest.approx(theirs(refs, hyps), abs=1e-9)
        for h, r, score in zip(hyps, refs, result.per_sample, strict=True):
            assert score == pytest.approx(theirs(r, h), abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=15), min_size=1, max_size=6))
def test_identity_scores_zero(texts):
    assert cer(texts, texts).value == 0.0
    assert wer(texts, texts).value == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT.filter(lambda t: t.strip())), min_size=1, max_size=6))
def test_bounds_with_non_empty_references(pairs):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    result = cer(hyps, refs)
    assert result.value >= 0.0
    # edits never exceed max(len(ref), len(hyp)), so the rate is bounded by that ratio
    for h, r, score in zip(hyps, refs, result.per_sample, strict=True):
        assert 0.0 <= score <= max(len(r.strip()), len(h.strip())) / len(r.strip())


@pytest.mark.parametrize("metric", [cer, wer])
def test_bad_input_names_the_index(metric):
    with pytest.raises(ValueError, match="differ in length: 2 predictions, 1 references"):
        metric(["a", "b"], ["a"])
    with pytest.raises(ValueError, match=r"predictions\[1\] is None"):
        metric(["a", None], ["a", "b"])
    with pytest.raises(ValueError, match=r"references\[0\] is int"):
        metric(["a"], [3])
    with pytest.raises(ValueError, match="must be a list of strings"):
        metric("abc", "abd")
    with pytest.raises(ValueError, match="unknown parameter"):
        metric(["a"], ["a"], lower=True)


def test_empty_corpus_scores_zero():
    result = cer([], [])
    assert result.value == 0.0 and result.per_sample == []


# --- compat="jiwer": jiwer's default transforms, written separately (issue #19) -----------


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8))
def test_jiwer_variant_equals_jiwer_and_ours_at_default_options(pairs):
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    for metric, theirs in ((cer, jiwer.cer), (wer, jiwer.wer)):
        variant = metric(hyps, refs, compat="jiwer")
        assert variant.value == pytest.approx(theirs(refs, hyps), abs=1e-9)
        assert variant.per_sample == pytest.approx([theirs(r, h) for h, r in pairs], abs=1e-9)
        # ours with no normalisation is the same definition, computed another way
        assert metric(hyps, refs).per_sample == pytest.approx(variant.per_sample, abs=1e-12)


def test_jiwer_variant_identity_and_where_it_differs_from_ours():
    result = wer(["a\tb"], ["A b"], compat="jiwer")
    assert (result.key, result.column) == ("wer@2", "wer@jiwer")
    assert result.value == 1.0  # a lone tab is no word boundary, and case counts
    # ours with normalisation on is no longer jiwer's default
    assert wer(["a\tb"], ["A b"], lowercase=True, collapse_whitespace=True).value == 0.0
    with pytest.raises(ValueError, match="compat='jiwer' is jiwer's default transforms"):
        cer(["a"], ["a"], compat="jiwer", lowercase=True)
    with pytest.raises(ValueError, match="unknown compat 'jiwer3'"):
        cer(["a"], ["a"], compat="jiwer3")


def test_jiwer_variant_boundary_cases_by_hand():
    # whitespace only: CER strips the ends, so "  ab " vs "ab" is 0 edits
    assert cer(["  ab "], ["ab"], compat="jiwer").value == 0.0
    # empty answer: every reference unit is a deletion
    assert cer([""], ["abc"], compat="jiwer").value == 1.0
    assert wer([""], ["a b"], compat="jiwer").value == 1.0
    # empty reference: the insertion count (jiwer >= 4)
    assert cer(["ab"], [""], compat="jiwer").per_sample == [2.0]
    assert cer(["ab"], [""], compat="jiwer").value == pytest.approx(jiwer.cer("", "ab"))


def test_corpus_ratio_parts_are_exposed_per_sample():
    """The corpus value is sum(edits) / sum(reference units); the parts per sample let a
    bootstrap resample samples and recompute that ratio."""
    for compat in (None, "jiwer"):
        result = cer(["ax", "abcdefgh", "zz"], ["ab", "abcdefgh", ""], compat=compat)
        ratio = result.details["ratio"]
        assert ratio == {"numerators": [1, 0, 2], "denominators": [2, 8, 0]}
        assert result.value == pytest.approx(sum(ratio["numerators"]) / sum(ratio["denominators"]))


@pytest.mark.parametrize("metric", [cer, wer], ids=lambda m: m.name)
@pytest.mark.parametrize("compat", [None, "jiwer"])
def test_several_accepted_answers_score_against_the_closest(metric, compat):
    """Issue 29: DocVQA-style lists under CER/WER raised ``references[0] is list``. A sample
    is scored against its closest accepted answer (lowest per-sample rate, ties: the first);
    the corpus adds up that answer's edits and units."""
    hyps = ["ten july", "big red dog", "x"]
    refs = [["10 July", "ten july"], ["big dog", "big red cat"], "x"]
    result = metric(hyps, refs, compat=compat)
    chosen = result.details["chosen_reference"]
    assert chosen == [1, 1, 0]
    closest = [r[c] if isinstance(r, list) else r for r, c in zip(refs, chosen, strict=True)]
    single = metric(hyps, closest, compat=compat)
    assert result.value == single.value and result.per_sample == single.per_sample
    for i, ref in enumerate(refs):
        answers = ref if isinstance(ref, list) else [ref]
        rates = [metric([hyps[i]], [a], compat=compat).per_sample[0] for a in answers]
        assert result.per_sample[i] == min(rates)


def test_several_accepted_answers_tie_goes_to_the_first_and_bad_lists_are_named():
    result = wer(["a b"], [["a c", "c b"]])
    assert result.details["chosen_reference"] == [0]
    assert result.details["ratio"] == {"numerators": [1], "denominators": [2]}
    with pytest.raises(ValueError, match=r"references\[1\] is an empty list"):
        cer(["a", "b"], [["a"], []])
    with pytest.raises(ValueError, match=r"references\[0\]\[1\] is NoneType"):
        cer(["a"], [["a", None]])
