"""Pages as Markdown (the doc-parsing task): rules on hand-made word boxes, then real
Tesseract through the wrapper and the openai client on a page drawn here."""

from __future__ import annotations

import io

import openai
from conftest import API_KEY, font, image_message, needs_tesseract
from PIL import Image, ImageDraw
from vlmhb_ocr_adapter.extraction import answer_pages
from vlmhb_ocr_adapter.layout import Word, group_rows
from vlmhb_ocr_adapter.markdown import asks_for_markdown, page_markdown

H = 20  # word height of the hand-made pages


def line(text: str, left: int, top: int, height: int = H) -> list[Word]:
    """Words of one line, 12 px per character, one space (12 px) between words."""
    words, x = [], left
    for token in text.split():
        words.append(Word(token, x, top, 12 * len(token), height))
        x += 12 * (len(token) + 1)
    return words


def markdown(*lines: list[Word]) -> str:
    return page_markdown(group_rows([w for words in lines for w in words]))


def test_the_prompt_decides() -> None:
    assert asks_for_markdown("Convert this document page to Markdown.")
    assert not asks_for_markdown("Распознай текст на изображении")
    rows = group_rows(line("Hello world", 10, 10))
    assert answer_pages("Write the page as markdown", [rows, rows], None) == (
        "Hello world\n\nHello world"
    )
    assert answer_pages("Transcribe the page", [rows], None) == "Hello world"


def test_paragraphs_split_at_wider_gaps_and_field_lines_stand_alone() -> None:
    page = markdown(
        line("Title of the page", 10, 0, height=40),
        line("first line of a", 10, 60),
        line("paragraph that wraps", 10, 90),
        line("second paragraph", 10, 150),
        line("Date: 2024-01-02", 10, 180),
        line("Seller: ACME Ltd", 10, 210),
    )
    assert page.split("\n\n") == [
        "# Title of the page",
        "first line of a paragraph that wraps",
        "second paragraph",
        "Date: 2024-01-02",
        "Seller: ACME Ltd",
    ]


def test_aligned_cells_and_ruled_lines_make_a_table() -> None:
    def row(top: int, *cells: str) -> list[Word]:
        words = []
        for i, cell in enumerate(cells):
            words += line(cell, 10 + 300 * i, top)
            words.append(Word("|", 10 + 300 * i + 270, top - 8, 6, H + 16))  # vertical rule
        return words

    page = markdown(
        line("Items", 10, 0),
        row(50, "Item", "Qty"),
        row(100, "Pen & ink", "2"),
        row(150, "Paper", "10"),
        line("Total: 12", 10, 210),
    )
    assert page.split("\n\n") == [
        "Items",
        "<table><tr><td>Item</td><td>Qty</td></tr><tr><td>Pen &amp; ink</td><td>2</td></tr>"
        "<tr><td>Paper</td><td>10</td></tr></table>",
        "Total: 12",
    ]


def test_two_columns_are_read_left_column_first() -> None:
    left, right = 10, 700
    page = markdown(
        line("A report over both columns", 300, 0, height=40),
        line("Left heading", left, 60) + line("Right heading", right, 60),
        line("left text one two three", left, 120) + line("right text one two three", right, 120),
        line("left text four five six", left, 150) + line("right text four five six", right, 150),
        line("left text seven eight", left, 180) + line("right text seven eight", right, 180),
    )
    assert page.split("\n\n") == [
        "# A report over both columns",
        "Left heading",
        "left text one two three left text four five six left text seven eight",
        "Right heading",
        "right text one two three right text four five six right text seven eight",
    ]


def test_an_empty_page_is_empty_markdown() -> None:
    assert page_markdown([]) == ""


def _invoice_png() -> bytes:
    """A title, a field line, a ruled 3 x 3 table and a total, drawn with DejaVu."""
    face = font(32)
    page = Image.new("RGB", (1200, 620), "white")
    draw = ImageDraw.Draw(page)
    draw.text((40, 30), "Invoice 4821", font=face, fill="black")
    draw.text((40, 100), "Seller: Northwind Traders", font=face, fill="black")
    cells = [["Item", "Qty", "Amount"], ["Stapler", "3", "36.00"], ["Paper", "10", "45.00"]]
    x0, y0, widths, height = 40, 180, [420, 200, 260], 70
    for r, cells_row in enumerate(cells):
        x = x0
        for c, cell in enumerate(cells_row):
            draw.text((x + 16, y0 + r * height + 16), cell, font=face, fill="black")
            x += widths[c]
    for r in range(len(cells) + 1):
        draw.line([(x0, y0 + r * height), (x0 + sum(widths), y0 + r * height)], "black", 2)
    x = x0
    for width in [0, *widths]:
        x += width
        draw.line([(x, y0), (x, y0 + len(cells) * height)], "black", 2)
    draw.text((40, 450), "Total: 81.00", font=face, fill="black")
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


@needs_tesseract
def test_tesseract_answers_a_page_as_markdown_with_an_html_table(ocr_server) -> None:
    client = openai.OpenAI(base_url=f"{ocr_server.url}/v1", api_key=API_KEY, max_retries=0)
    completion = client.chat.completions.create(
        model="ocr",
        messages=image_message(_invoice_png(), "Convert this page to Markdown, tables as HTML."),
    )
    assert completion.choices[0].message.content.split("\n\n") == [
        "Invoice 4821",
        "Seller: Northwind Traders",
        "<table><tr><td>Item</td><td>Qty</td><td>Amount</td></tr>"
        "<tr><td>Stapler</td><td>3</td><td>36.00</td></tr>"
        "<tr><td>Paper</td><td>10</td><td>45.00</td></tr></table>",
        "Total: 81.00",
    ]
