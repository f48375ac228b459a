"""The four metrics on pages whose scores can be worked out by hand."""

from __future__ import annotations

import math

import pytest
from vlmhb_document_metrics import (
    clean_text,
    reading_order_edit_distance,
    teds,
    teds_s,
    text_edit_distance,
)

TABLE = "<table><tr><td>Item</td><td>Qty</td></tr><tr><td>Pen</td><td>2</td></tr></table>"
PAGE = f"# Invoice 7\n\nBill to: ACME Ltd\n\n{TABLE}\n\nTotal: 5 EUR"


def test_clean_text_keeps_word_characters_only() -> None:
    assert clean_text("**Total:** 5,00 €\n- item_1\t/n") == "Total500item_1"
    assert clean_text("Счёт № 12") == "Счёт12"


def test_a_perfect_page() -> None:
    assert text_edit_distance([PAGE], [PAGE]).value == 0.0
    assert reading_order_edit_distance([PAGE], [PAGE]).value == 0.0
    assert teds([PAGE], [PAGE]).value == 1.0
    assert teds_s([PAGE], [PAGE]).value == 1.0


def test_markup_and_punctuation_cost_nothing() -> None:
    plain = f"Invoice 7\n\nBill to ACME Ltd\n\n{TABLE}\n\n**Total** 5 EUR"
    assert text_edit_distance([plain], [PAGE]).value == 0.0


def test_blocks_in_the_wrong_order_cost_reading_order_not_text() -> None:
    reversed_page = f"Total: 5 EUR\n\n{TABLE}\n\nBill to: ACME Ltd\n\n# Invoice 7"
    assert text_edit_distance([reversed_page], [PAGE]).value == 0.0
    # reference text blocks 1, 2, 4 (3 is the table) read as 4, 2, 1: two substitutions
    assert reading_order_edit_distance([reversed_page], [PAGE]).value == pytest.approx(2 / 3)


def test_a_missing_block_costs_its_characters_and_its_place() -> None:
    missing = f"# Invoice 7\n\n{TABLE}\n\nTotal: 5 EUR"
    lengths = [len("Invoice7"), len("BilltoACMELtd"), len("Total5EUR")]
    result = text_edit_distance([missing], [PAGE])
    assert result.value == pytest.approx(lengths[1] / sum(lengths))
    assert result.details == {
        "pages_scored": 1,
        "pages_without_text": 0,
        "edits": lengths[1],
        "characters": sum(lengths),
    }
    assert reading_order_edit_distance([missing], [PAGE]).value == pytest.approx(1 / 3)


def test_an_extra_block_costs_its_characters() -> None:
    extra = PAGE + "\n\nThank you"
    lengths = [len("Invoice7"), len("BilltoACMELtd"), len("Total5EUR"), len("Thankyou")]
    assert text_edit_distance([extra], [PAGE]).value == pytest.approx(lengths[3] / sum(lengths))


def test_a_misread_word_in_a_matched_block() -> None:
    misread = PAGE.replace("ACME", "ACNE")
    assert text_edit_distance([misread], [PAGE]).value == pytest.approx(1 / 30)


def test_a_missing_table_scores_zero_and_its_cells_are_not_text() -> None:
    without = PAGE.replace(TABLE, "")
    assert teds([without], [PAGE]).value == 0.0
    assert text_edit_distance([without], [PAGE]).value == 0.0


def test_a_pipe_table_is_scored_as_a_table() -> None:
    piped = PAGE.replace(TABLE, "| Item | Qty |\n|---|---|\n| Pen | 2 |")
    assert teds([piped], [PAGE]).value == 1.0


def test_tables_are_averaged_over_tables_not_pages() -> None:
    two = PAGE + "\n\n" + TABLE.replace("Pen", "Ink")
    wrong_second = PAGE + "\n\n" + TABLE.replace("Pen", "Ink").replace(">2<", ">3<")
    result = teds([PAGE, wrong_second], [PAGE, two])
    assert result.per_sample == pytest.approx([1.0, (1 + 5 / 6) / 2])
    assert result.value == pytest.approx((1 + 1 + 5 / 6) / 3)
    assert result.details["table_sums"] == pytest.approx([1.0, 1 + 5 / 6])
    assert result.details["table_counts"] == [1, 2]


def test_a_page_without_reference_tables_has_no_teds() -> None:
    text_only = "Hello\n\nWorld"
    result = teds([TABLE, PAGE], [text_only, PAGE])
    assert math.isnan(result.per_sample[0])
    assert result.value == 1.0
    assert result.details["pages_with_tables"] == 1


def test_an_empty_page_pair_has_no_text_score() -> None:
    result = text_edit_distance(["", "x"], ["", "x"])
    assert math.isnan(result.per_sample[0]) and result.per_sample[1] == 0.0
    assert result.value == 0.0 and result.details["pages_without_text"] == 1


def test_an_empty_answer_is_all_wrong() -> None:
    assert text_edit_distance([""], [PAGE]).value == 1.0
    assert reading_order_edit_distance([""], [PAGE]).value == 1.0
    assert teds([""], [PAGE]).value == 0.0


def test_metric_identity() -> None:
    assert [m.key for m in (text_edit_distance, teds, teds_s, reading_order_edit_distance)] == [
        "text_edit_distance@1",
        "teds@1",
        "teds_s@1",
        "reading_order_edit_distance@1",
    ]


@pytest.mark.parametrize(
    ("predictions", "references", "message"),
    [
        ("page", ["page"], "predictions must be a list of Markdown pages"),
        (["a", "b"], ["a"], "2 predictions, 1 references"),
        ([None], ["a"], r"predictions\[0\] is NoneType; expected a Markdown string"),
        (["a"], [{"blocks": []}], r"references\[0\] is dict"),
    ],
)
def test_bad_input_names_the_sample(predictions, references, message) -> None:
    for metric in (text_edit_distance, teds, teds_s, reading_order_edit_distance):
        with pytest.raises(ValueError, match=message):
            metric(predictions, references)
