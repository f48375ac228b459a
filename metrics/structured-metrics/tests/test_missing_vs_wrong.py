"""A field left out is not the same error as a wrong value (issue 28)."""

from __future__ import annotations

import json
import math

import pytest
from vlmhb_structured_metrics import (
    field_exact_match,
    field_f1,
    field_omission_rate,
    field_precision,
    field_recall,
)

REFS = [
    {"company": "ACME LTD", "date": "01/02/2019", "total": "9.90"},
    {"company": "BOOK CO", "date": "03/04/2019", "total": "12.00"},
]


def test_a_model_that_leaves_fields_out_has_precision_above_recall():
    # the shape OCR baselines and cautious VLMs answer with: every key, empty when unread
    cautious = [
        json.dumps({"company": "ACME LTD", "date": "", "total": None}),
        json.dumps({"company": "BOOK CO", "date": "03/04/2019", "total": ""}),
    ]
    em = field_exact_match(cautious, REFS).value
    p, r, f1 = (m(cautious, REFS) for m in (field_precision, field_recall, field_f1))
    assert em == pytest.approx(3 / 6)
    assert p.value == 1.0  # every value it gave is right
    assert r.value == pytest.approx(3 / 6)
    assert f1.value == pytest.approx(2 / 3)
    assert f1.value != pytest.approx(em)
    assert (f1.details["missing"], f1.details["wrong_value"]) == (3, 0)
    counts = f1.details["per_field_counts"]
    assert counts["total"]["missing"] == 2 and counts["total"]["recall"] == 0.0
    assert counts["company"]["f1"] == 1.0


def test_a_wrong_value_costs_precision_and_recall():
    guessing = [
        json.dumps({"company": "ACME LTD", "date": "01/02/2018", "total": "1.00"}),
        json.dumps({"company": "BOOK CO", "date": "03/04/2019", "total": "11.00"}),
    ]
    p = field_precision(guessing, REFS)
    r = field_recall(guessing, REFS)
    assert p.value == r.value == pytest.approx(3 / 6)
    assert p.details["wrong_value"] == 3 and p.details["missing"] == 0
    assert field_omission_rate(guessing, REFS).value == 0.0


def test_omission_rate_per_field_and_per_sample():
    answers = [
        '{"company": "ACME LTD", "date": "", "total": "9.90"}',
        "I cannot read this receipt",  # unparsable: every field left out
    ]
    result = field_omission_rate(answers, REFS)
    assert result.per_sample == [pytest.approx(1 / 3), 1.0]
    assert result.value == pytest.approx(4 / 6)
    assert result.details["per_field"] == {"company": 0.5, "date": 1.0, "total": 0.5}
    assert result.details["per_field_samples"]["date"] == [1.0, 1.0]
    assert (result.details["left_out"], result.details["expected"]) == (4, 6)


def test_empty_reference_fields_are_neither_expected_nor_missing():
    refs = [{"company": "ACME LTD", "voucher": ""}]
    answers = ['{"company": "ACME LTD"}']
    assert field_recall(answers, refs).value == 1.0
    assert field_omission_rate(answers, refs).value == 0.0
    # claiming a value for a field the document does not have is a hallucination
    wrong = ['{"company": "ACME LTD", "voucher": "V-1"}']
    assert field_precision(wrong, refs).value == pytest.approx(0.5)
    assert field_precision(wrong, refs).details["hallucinated"] == 1


def test_per_field_sample_vectors_for_confidence_intervals():
    answers = ['{"company": "ACME LTD", "date": "x"}', '{"company": "BOOK"}']
    em = field_exact_match(answers, REFS).details["per_field_samples"]
    assert em["company"] == [1.0, 0.0] and em["date"] == [0.0, 0.0]
    precision = field_precision(answers, REFS).details["per_field_samples"]
    assert precision["company"] == [1.0, 0.0]
    assert precision["date"][0] == 0.0 and math.isnan(precision["date"][1])  # not given
