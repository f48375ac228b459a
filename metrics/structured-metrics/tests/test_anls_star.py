"""ANLS* against the ``anls_star`` package (PyPI) on the same generated pairs."""

from __future__ import annotations

import json
import math

import pytest
from anls_star import anls_score
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmhb_structured_metrics import anls_star, anls_star_score

WORDS = st.sampled_from(["acme", "acme ltd", "Acme  Ltd", "9.90", "9.9", "", "total", "x"])
LEAF = st.one_of(WORDS, st.integers(0, 20), st.none())
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    ),
    max_leaves=8,
)
OBJECT = st.dictionaries(st.sampled_from(["company", "date", "items", "total"]), VALUE)


@settings(max_examples=400, deadline=None)
@given(OBJECT, OBJECT)
def test_same_score_as_the_anls_star_package(reference, answer):
    assert anls_star_score(reference, answer) == pytest.approx(anls_score(reference, answer))


@settings(max_examples=200, deadline=None)
@given(OBJECT, st.one_of(OBJECT, VALUE))
def test_any_answer_shape_scores_like_the_package(reference, answer):
    assert anls_star_score(reference, answer) == pytest.approx(anls_score(reference, answer))


def test_by_hand_lists_nested_and_unanswerable():
    reference = {"items": ["milk", "bread"], "buyer": {"name": "Ann"}, "voucher": None}
    # items matched by assignment whatever their order; voucher correctly left empty
    answer = {"items": ["bread", "milk"], "buyer": {"name": "Ann"}, "voucher": None}
    assert anls_star_score(reference, answer) == 1.0
    # one item missing, one hallucinated: 2 matched of max length 3; voucher answered wrongly
    answer = {"items": ["bread", "eggs", "milk"], "buyer": {"name": "Ann"}, "voucher": "V1"}
    assert anls_star_score(reference, answer) == pytest.approx(3 / 5)
    assert anls_score(reference, answer) == pytest.approx(3 / 5)


def test_metric_over_raw_answers_with_per_field_scores():
    refs = [{"company": "ACME LTD", "total": "9.90"}, {"company": "BOOK CO", "total": "1.00"}]
    answers = ['```json\n{"company": "ACME LTD", "total": "9.9"}\n```', "no JSON here"]
    result = anls_star(answers, refs)
    assert result.key == "anls_star@1"
    assert result.per_sample == [pytest.approx((1 + 0.75) / 2), 0.0]
    assert result.details["unparsable"] == 1
    assert result.details["per_field"]["total"] == pytest.approx(0.75 / 2)
    assert result.details["per_field_samples"]["company"] == [1.0, 0.0]
    decoded = json.loads(answers[0].removeprefix("```json\n").removesuffix("\n```"))
    assert result.per_sample[0] == pytest.approx(anls_score(refs[0], decoded))


def test_bad_threshold_and_bad_reference_are_named():
    with pytest.raises(ValueError, match="threshold"):
        anls_star(["{}"], [{}], threshold=0)
    with pytest.raises(ValueError, match=r"references\[0\]"):
        anls_star(["{}"], ["nope"])
    assert math.isclose(anls_star(["{}"], [{}]).value, 1.0)
