"""Full pages for page parsing: pinned bytes, exact Markdown references, clear errors."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from vlmhb_synthetic_docs import generate_pages, load_task, render_page
from vlmhb_synthetic_docs.cli import main
from vlmhb_synthetic_docs.pages import MARGIN, WIDTH

# generate_pages(out, seed=0, count=2, noise=1), the data of synthetic-docs-doc-parsing (whose
# registry checksum is the sync stage's fingerprint of the same folder)
GOLDEN_FINGERPRINT = "sha256:73227ed67b60616bb67d7ee0939bf1a99963cd3c73b6e79c9c56b1c5594389df"


@pytest.fixture(scope="module")
def clean_pages(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pages")
    generate_pages(out, seed=3, count=2, noise=0)
    return out


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_data(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def test_the_doc_parsing_dataset_keeps_its_golden_fingerprint(tmp_path: Path) -> None:
    assert generate_pages(tmp_path, seed=0, count=2, noise=1).fingerprint == GOLDEN_FINGERPRINT


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = generate_pages(tmp_path / "a", seed=5, count=2, noise=0).fingerprint
    assert generate_pages(tmp_path / "b", seed=5, count=2, noise=0).fingerprint == first
    assert generate_pages(tmp_path / "c", seed=6, count=2, noise=0).fingerprint != first


def test_an_invoice_page_has_its_line_items_as_an_html_table(clean_pages: Path) -> None:
    invoice = load_task(clean_pages, "doc-parsing", doc_class="invoice-table")[0]
    blocks = invoice.reference.split("\n\n")
    assert blocks[0] == "# INVOICE" and blocks[-1].startswith("Total: ")
    (table,) = [b for b in blocks if b.startswith("<table>")]
    parser = _Cells()
    parser.feed(table)
    header, *items = parser.rows
    assert header == ["Item", "Qty", "Unit price", "Amount"]
    assert 3 <= len(items) <= 5
    for _, quantity, price, amount in items:
        assert float(amount) == pytest.approx(int(quantity) * float(price))
    total = float(re.search(r"Total: ([\d.]+) USD", blocks[-1]).group(1))
    assert total == pytest.approx(sum(float(row[3]) for row in items))


def test_a_two_column_page_reads_left_column_first(clean_pages: Path) -> None:
    page = load_task(clean_pages, "doc-parsing", doc_class="two-column")[0]
    blocks = page.reference.split("\n\n")
    assert blocks[0].startswith("# ") and blocks[1].startswith("## ")
    assert sum(b.startswith("## ") for b in blocks) == 4
    image = np.asarray(Image.open(Path(page.images[0])).convert("L"))
    # nothing is drawn in the gutter between the columns, below the title
    middle = WIDTH // 2
    assert image[MARGIN + 80 :, middle - 20 : middle + 20].min() == 255


def test_the_reference_is_what_was_drawn_for_every_class() -> None:
    for doc_class in ("invoice-table", "two-column"):
        _, markdown, params = render_page(0, doc_class, seed=1, noise=0)
        assert params == {} and "\n\n\n" not in markdown and markdown.strip() == markdown


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "count: expected at least 1, got 0"),
        ({"doc_classes": ["letter"]}, r"doc_classes: expected some of \['invoice-table'"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        generate_pages(tmp_path, **kwargs)
    assert not list(tmp_path.rglob("*.png"))


def test_cli_pages(tmp_path: Path, capsys) -> None:
    assert main(["pages", str(tmp_path / "out"), "--count", "1", "--noise", "0"]) == 0
    out = capsys.readouterr().out
    assert "wrote 1 pages (1 invoice-table)" in out and "doc-parsing: doc_parsing.jsonl" in out
    assert main(["pages", str(tmp_path / "bad"), "--count", "0"]) == 2
    assert "count: expected at least 1" in capsys.readouterr().err
