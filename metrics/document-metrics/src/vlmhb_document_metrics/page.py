"""A Markdown page answer as an ordered list of text blocks and tables.

OmniDocBench scores a page by its blocks, not as one string: a model that writes the right
paragraphs in a different order, or a table as HTML where the reference has a text line, is
told apart. The split follows OmniDocBench's reading of a Markdown page (``md_tex_filter``),
without its LaTeX parts (formulas and LaTeX tables are not scored here):

1. Images (``![alt](src)``) go, so do opening code fences for ``markdown``/``html``/``latex``
   and every fence that ends a line (other opening fences stay, as text); runs of more than four ``_`` or spaces become four; ``<html>``/``<body>`` tags go.
2. Every outermost ``<table ...>...</table>`` is a table block (nested tables stay inside it).
3. Two or more consecutive pipe rows (``| a | b |``) are a Markdown table, turned into an HTML
   table (one ``<tr>`` per row, one ``<td>`` per cell; the ``|---|`` separator row dropped).
4. The rest is cut into text blocks at blank lines, or at every line break when the page has
   no blank line (some models never write one); each block's lines are stripped and empty
   lines dropped.

Blocks keep the character offset where they start, which is the page's reading order.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["text", "table"]

_IMAGE = re.compile(r"!\[.*?\]\(.*?\)")
_FENCE_OPEN = re.compile(r"^```(?:markdown|html|latex)\n?", re.MULTILINE)
_FENCE_CLOSE = re.compile(r"```\n?$", re.MULTILINE)
_UNDERSCORES = re.compile(r"_{4,}")
_SPACES = re.compile(r" {4,}")
_TABLE_TAG = re.compile(r"<table\b[^>]*>|</table\s*>", re.IGNORECASE)
_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR_CELL = re.compile(r"^\s*:?-{1,}:?\s*$")


@dataclass(frozen=True)
class Block:
    """One block of a page: its kind, its content (HTML for a table) and where it starts."""

    kind: BlockKind
    content: str
    position: int


def _blank(text: str, start: int, end: int) -> str:
    """Replace a span by spaces, so later offsets stay those of the original page."""
    return text[:start] + " " * (end - start) + text[end:]


def _clean(page: str) -> str:
    page = _IMAGE.sub("", page)
    page = _FENCE_OPEN.sub("", page)
    page = _FENCE_CLOSE.sub("", page)
    page = _UNDERSCORES.sub("____", page)
    page = _SPACES.sub("    ", page)
    for tag in ("<html>", "</html>", "<body>", "</body>"):
        page = page.replace(tag, "")
    return page


def _html_tables(page: str) -> tuple[list[Block], str]:
    """Outermost ``<table>`` elements, matched with a depth count (nested tables stay in)."""
    blocks: list[Block] = []
    depth, start = 0, 0
    spans: list[tuple[int, int]] = []
    for tag in _TABLE_TAG.finditer(page):
        if not tag.group().startswith("</"):
            if depth == 0:
                start = tag.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                spans.append((start, tag.end()))
    for begin, end in spans:
        blocks.append(Block("table", page[begin:end], begin))
        page = _blank(page, begin, end)
    return blocks, page


def _cells(row: str) -> list[str]:
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [cell.strip() for cell in inner.split("|")]


def pipe_table_html(rows: list[str]) -> str:
    """A Markdown pipe table as an HTML table: one ``<tr>`` per row, a ``<td>`` per cell."""
    body = []
    for row in rows:
        cells = _cells(row)
        if all(_SEPARATOR_CELL.match(cell) for cell in cells):
            continue
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return "<table>" + "".join(body) + "</table>"


def _pipe_tables(page: str) -> tuple[list[Block], str]:
    blocks: list[Block] = []
    run: list[tuple[int, str]] = []
    offset = 0
    lines = page.split("\n")

    def flush() -> None:
        nonlocal page
        if len(run) >= 2:
            begin = run[0][0]
            end = run[-1][0] + len(run[-1][1])
            blocks.append(Block("table", pipe_table_html([line for _, line in run]), begin))
            page = _blank(page, begin, end)
        run.clear()

    for line in lines:
        if _PIPE_ROW.match(line):
            run.append((offset, line))
        else:
            flush()
        offset += len(line) + 1
    flush()
    return blocks, page


def _text_blocks(page: str) -> list[Block]:
    separator = "\n\n" if "\n\n" in page else "\n"
    blocks = []
    offset = 0
    for piece in page.split(separator):
        text = "\n".join(line.strip() for line in piece.split("\n") if line.strip())
        if text:
            blocks.append(Block("text", text, offset + (len(piece) - len(piece.lstrip()))))
        offset += len(piece) + len(separator)
    return blocks


def split_page(page: str) -> list[Block]:
    """The page's blocks in reading order (see the module docstring for the rules)."""
    if not isinstance(page, str):
        raise TypeError(f"a page is a Markdown string, got {type(page).__name__}")
    page = _clean(page)
    tables, page = _html_tables(page)
    pipe, page = _pipe_tables(page)
    blocks = tables + pipe + _text_blocks(page)
    return sorted(blocks, key=lambda block: block.position)
