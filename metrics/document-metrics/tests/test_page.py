"""How a Markdown page is cut into blocks (the rules of vlmhb_document_metrics.page)."""

from __future__ import annotations

import pytest
from vlmhb_document_metrics import split_page


def kinds(page: str) -> list[tuple[str, str]]:
    return [(b.kind, b.content) for b in split_page(page)]


def test_blank_lines_cut_text_blocks_and_lines_are_stripped() -> None:
    page = "# Title\n\n  first line\n  second line  \n\n\nlast"
    assert kinds(page) == [
        ("text", "# Title"),
        ("text", "first line\nsecond line"),
        ("text", "last"),
    ]


def test_without_blank_lines_every_line_is_a_block() -> None:
    assert kinds("one\ntwo\n three") == [("text", "one"), ("text", "two"), ("text", "three")]


def test_html_tables_are_blocks_in_place_and_nested_tables_stay_inside() -> None:
    inner = "<table><tr><td>x</td></tr></table>"
    outer = f"<table><tr><td>{inner}</td></tr></table>"
    blocks = split_page(f"before\n\n{outer}\n\nafter")
    assert [(b.kind, b.content) for b in blocks] == [
        ("text", "before"),
        ("table", outer),
        ("text", "after"),
    ]
    assert blocks[1].position == len("before\n\n")


def test_pipe_tables_become_html_without_the_separator_row() -> None:
    page = "Items\n\n| Item | Qty |\n|:---|---:|\n| Pen & ink | 2 |\n\nTotal"
    assert kinds(page) == [
        ("text", "Items"),
        (
            "table",
            "<table><tr><td>Item</td><td>Qty</td></tr>"
            "<tr><td>Pen &amp; ink</td><td>2</td></tr></table>",
        ),
        ("text", "Total"),
    ]


def test_a_single_pipe_line_is_text() -> None:
    assert kinds("| not a table |") == [("text", "| not a table |")]


def test_images_fences_and_page_wrappers_are_dropped() -> None:
    page = "```markdown\n<html><body>![logo](a.png)Hello\n\nWorld</body></html>\n```"
    assert kinds(page) == [("text", "Hello"), ("text", "World")]


def test_closing_fences_go_and_other_opening_fences_stay_as_text() -> None:
    assert kinds("intro\n\n```python\nx = 1\n```\n\nend") == [
        ("text", "intro"),
        ("text", "```python\nx = 1"),
        ("text", "end"),
    ]


def test_a_page_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="Markdown string, got dict"):
        split_page({"text": "x"})  # type: ignore[arg-type]
