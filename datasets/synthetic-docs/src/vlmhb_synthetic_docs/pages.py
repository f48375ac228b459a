"""Full pages for page parsing: invoices with a line-item table, and two-column reports.

The ``doc-parsing`` task asks for a page as Markdown with tables as HTML, and scores text,
tables (TEDS) and reading order. These pages exercise each part: an invoice puts its items
in a ruled table (ground truth: the HTML table), a report sets its text in two columns (the
reading order is the left column, then the right one, which a reader that goes line by line
across the page gets wrong). The reference is the page as Markdown: one block per title,
heading, field line or paragraph, separated by blank lines; a paragraph's wrapped lines are
joined by spaces.

Everything is seeded by ``(seed, page index)`` like :func:`~.generator.generate`, with the
same exact noise and fixed PNG settings, so the bytes are reproducible.
"""

from __future__ import annotations

import html
import random
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from pydantic import BaseModel

from vlmhb_synthetic_docs import fake
from vlmhb_synthetic_docs.generator import (
    _jsonl,
    check_request,
    pixels_digest,
    save_png,
    write_summary,
)
from vlmhb_synthetic_docs.noise import apply_noise
from vlmhb_synthetic_docs.typefaces import font

PAGE_CLASSES = ("invoice-table", "two-column")
TEXT = (20, 20, 20)
RULE = (60, 60, 60)
MARGIN = 60
WIDTH = 1400
BODY = 28
LINE_GAP = 12
PARAGRAPH_GAP = 30
CELL_PAD = 14
TABLE_HEADER = ("Item", "Qty", "Unit price", "Amount")
WORDS = (
    "the market team report shows strong growth in sales across every region while costs "
    "stayed close to plan and the new supplier delivered parts on time so production rose "
    "steadily during the quarter customers asked for faster delivery and better support "
    "which the service desk now offers through longer hours and a clearer process for "
    "returns budget risk review staff training energy prices remained high but stable"
).split()
HEADINGS = ("Overview", "Results", "Costs", "Outlook", "Staff", "Suppliers", "Customers", "Risks")


class PageInfo(BaseModel):
    id: str
    doc_class: str
    image: str  # relative to the output folder
    pixels_sha256: str


class PagesSummary(BaseModel):
    out_dir: str
    seed: int
    count: int
    noise: int
    pages: list[PageInfo]
    files: dict[str, str]
    fingerprint: str = ""  # fingerprint(out_dir); not in summary.json


class _Canvas:
    """A white page drawn top to bottom; ``blocks`` is its Markdown, block by block."""

    def __init__(self, height: int) -> None:
        self.image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.image)
        self.y = MARGIN
        self.blocks: list[str] = []

    def centred(self, text: str, size: int, markdown: str) -> None:
        face = font(size, bold=True)
        x = (WIDTH - self.draw.textlength(text, font=face)) / 2
        self.draw.text((x, self.y), text, font=face, fill=TEXT)
        self.blocks.append(markdown)
        self.y += size + PARAGRAPH_GAP

    def line(self, text: str) -> None:
        self.draw.text((MARGIN, self.y), text, font=font(BODY), fill=TEXT)
        self.blocks.append(text)
        self.y += BODY + PARAGRAPH_GAP

    def table(self, rows: list[tuple[str, ...]]) -> None:
        """A ruled table, its first row bold; the Markdown block is its HTML."""
        regular, bold = font(BODY), font(BODY, bold=True)
        widths = [
            max(int(self.draw.textlength(row[c], font=bold)) for row in rows) + 2 * CELL_PAD
            for c in range(len(rows[0]))
        ]
        height = BODY + 2 * CELL_PAD
        x0, y0 = MARGIN, self.y
        for r, row in enumerate(rows):
            x = x0
            for c, cell in enumerate(row):
                face = bold if r == 0 else regular
                right_aligned = r > 0 and c > 0
                offset = (
                    widths[c] - CELL_PAD - self.draw.textlength(cell, font=face)
                    if right_aligned
                    else CELL_PAD
                )
                self.draw.text((x + offset, y0 + r * height + CELL_PAD), cell, font=face, fill=TEXT)
                x += widths[c]
        right, bottom = x0 + sum(widths), y0 + len(rows) * height
        for r in range(len(rows) + 1):
            self.draw.line([(x0, y0 + r * height), (right, y0 + r * height)], fill=RULE, width=2)
        x = x0
        for width in [0, *widths]:
            x += width
            self.draw.line([(x, y0), (x, bottom)], fill=RULE, width=2)
        header = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows[1:]
        )
        self.blocks.append(f"<table><tr>{header}</tr>{body}</table>")
        self.y = bottom + PARAGRAPH_GAP

    def finish(self) -> Image.Image:
        self.image = self.image.crop((0, 0, WIDTH, min(self.image.height, self.y + MARGIN)))
        return self.image


def _invoice_table(rng: random.Random) -> tuple[Image.Image, list[str]]:
    seller, buyer = rng.sample(fake.COMPANIES, 2)
    day = fake.random_date(rng, date(2021, 1, 1), date(2025, 12, 31))
    canvas = _Canvas(1400)
    canvas.centred("INVOICE", 44, "# INVOICE")
    canvas.line(f"Invoice No: INV-{day.year}-{rng.randrange(1, 9999):04d}")
    canvas.line(f"Date: {day.isoformat()}")
    canvas.line(f"Seller: {seller}")
    canvas.line(f"Buyer: {buyer}")
    rows: list[tuple[str, ...]] = [TABLE_HEADER]
    total_cents = 0
    for name, price in rng.sample(fake.GOODS, rng.randrange(3, 6)):
        quantity = rng.randrange(1, 10)
        cents = round(price * 100) * quantity
        total_cents += cents
        rows.append((name, str(quantity), f"{price:.2f}", f"{cents / 100:.2f}"))
    canvas.table(rows)
    canvas.line(f"Total: {total_cents / 100:.2f} USD")
    return canvas.finish(), canvas.blocks


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randrange(6, 12))]
    return " ".join(words).capitalize() + "."


def _wrap(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font(BODY)) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _two_column(rng: random.Random) -> tuple[Image.Image, list[str]]:
    canvas = _Canvas(1800)
    title = f"{rng.choice(['Quarterly', 'Annual', 'Monthly'])} report {rng.randrange(2019, 2026)}"
    canvas.centred(title, 40, f"# {title}")
    gutter = 80
    column = (WIDTH - 2 * MARGIN - gutter) // 2
    top = canvas.y
    bottoms = []
    headings = rng.sample(HEADINGS, 4)
    for c in range(2):
        x, y = MARGIN + c * (column + gutter), top
        for heading in headings[2 * c : 2 * c + 2]:
            canvas.draw.text((x, y), heading, font=font(BODY + 4, bold=True), fill=TEXT)
            canvas.blocks.append(f"## {heading}")
            y += BODY + 4 + PARAGRAPH_GAP
            for _ in range(rng.randrange(1, 3)):
                paragraph = " ".join(_sentence(rng) for _ in range(rng.randrange(2, 4)))
                for line in _wrap(canvas.draw, paragraph, column):
                    canvas.draw.text((x, y), line, font=font(BODY), fill=TEXT)
                    y += BODY + LINE_GAP
                canvas.blocks.append(paragraph)
                y += PARAGRAPH_GAP
        bottoms.append(y)
    canvas.y = max(bottoms)
    return canvas.finish(), canvas.blocks


PAGE_RENDERERS = {"invoice-table": _invoice_table, "two-column": _two_column}


def render_page(
    index: int, doc_class: str, seed: int, noise: int
) -> tuple[Image.Image, str, dict[str, Any]]:
    """One page, its reference Markdown and the noise used, seeded by (seed, index) only."""
    if doc_class not in PAGE_RENDERERS:
        raise ValueError(f"doc_class: expected one of {list(PAGE_CLASSES)}, got {doc_class!r}")
    rng = random.Random(f"vlmhb-synthetic-docs:page:{seed}:{index}")
    image, blocks = PAGE_RENDERERS[doc_class](rng)
    image, _, params = apply_noise(image, {}, noise, rng)
    return image, "\n\n".join(blocks), params


def generate_pages(
    out_dir: str | Path,
    *,
    seed: int = 0,
    count: int = 4,
    noise: int = 1,
    doc_classes: list[str] | tuple[str, ...] = PAGE_CLASSES,
) -> PagesSummary:
    """Generate ``count`` pages (classes in turn) and ``doc_parsing.jsonl``; see the README."""
    check_request(count, doc_classes, PAGE_CLASSES)
    out = Path(out_dir)
    (out / "pages").mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    pages: list[PageInfo] = []
    for index in range(count):
        doc_class = doc_classes[index % len(doc_classes)]
        image, markdown, params = render_page(index, doc_class, seed, noise)
        page_id = f"page-{index:04d}_{doc_class}"
        relative = f"pages/{page_id}.png"
        save_png(image, out / relative)
        records.append(
            {
                "id": page_id,
                "image": relative,
                "reference": markdown,
                "doc_class": doc_class,
                "metadata": {"noise": {"level": noise, **params}},
            }
        )
        pages.append(
            PageInfo(
                id=page_id, doc_class=doc_class, image=relative, pixels_sha256=pixels_digest(image)
            )
        )
    _jsonl(out / "doc_parsing.jsonl", records)
    summary = PagesSummary(
        out_dir=str(out.resolve()),
        seed=seed,
        count=count,
        noise=noise,
        pages=pages,
        files={"doc-parsing": "doc_parsing.jsonl"},
    )
    summary.fingerprint = write_summary(out, summary)
    return summary
