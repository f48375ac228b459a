"""A page as Markdown from word boxes: blocks in reading order, tables as HTML.

The ``doc-parsing`` task asks for the page as Markdown with tables as HTML. An OCR engine
gives words and their boxes; these rules turn them into blocks, deliberately simple and
public so that the baseline's score says what they achieve:

* **Cells.** A line (words regrouped by vertical overlap) is cut into cells wherever the
  horizontal gap between two words exceeds :data:`CELL_GAP` times the median word height
  (an ordinary space is about a third of it), and at a ruled line read as a word of ``|``
  characters (Tesseract reads a table's vertical rules so), which is then dropped.
* **Columns.** When at least :data:`MIN_COLUMN_LINES` lines are two cells of at least
  :data:`MIN_COLUMN_CHARS` characters each (running text, not a table row), the page has two
  columns; the gutter is the median middle of those gaps. Lines with a word across the
  gutter (a title over both columns) are full width; between two full-width lines, the
  left column is read before the right one.
* **Tables.** Two or more consecutive lines with the same number (at least two) of cells
  are a table, written as ``<table><tr><td>…</td></tr></table>``, one row per line.
* **Blocks.** Other lines join the previous line's block (with a space) unless the vertical
  gap between them exceeds the column's usual line gap (its lower quartile) by more than
  :data:`PARAGRAPH_GAP` times the median word height (engines draw boxes of different
  heights, so the gap is measured against the page's own line spacing), the line starts
  with a ``Label:`` (a form field), or it is a heading (words :data:`HEADING_SCALE` times
  taller than the median), written ``# …``.

Blocks are separated by blank lines; pages of a multi-image request by a blank line too.
"""

from __future__ import annotations

import html
import re
from itertools import pairwise
from statistics import median

from vlmhb_ocr_adapter.layout import Row, Word, group_rows

CELL_GAP = 1.5
MIN_COLUMN_LINES = 3
MIN_COLUMN_CHARS = 12
PARAGRAPH_GAP = 0.5
HEADING_SCALE = 1.3
_FIELD = re.compile(r"^\w[\w .№#-]{0,30}:")
_RULE = re.compile(r"^[|¦│]+$")
_ASKS_MARKDOWN = re.compile(r"\bmarkdown\b|маркдаун", re.IGNORECASE)


def asks_for_markdown(prompt: str) -> bool:
    """Whether a plain-text prompt asks for the page as Markdown (the doc-parsing task)."""
    return _ASKS_MARKDOWN.search(prompt) is not None


def _is_rule(word: Word) -> bool:
    return _RULE.match(word.text) is not None


def _cells(row: Row, gap: float) -> list[list[Word]]:
    cells: list[list[Word]] = []
    ruled = False
    for word in row.words:
        if _is_rule(word):
            ruled = True
            continue
        last = cells[-1][-1] if cells else None
        if last is not None and not ruled and word.left - (last.left + last.width) <= gap:
            cells[-1].append(word)
        else:
            cells.append([word])
        ruled = False
    return cells


def _gutter(rows: list[Row], gap: float) -> float | None:
    middles = []
    for row in rows:
        cells = _cells(row, gap)
        if len(cells) == 2 and all(len(_text(cell)) >= MIN_COLUMN_CHARS for cell in cells):
            left_end = max(w.left + w.width for w in cells[0])
            middles.append((left_end + cells[1][0].left) / 2)
    return median(middles) if len(middles) >= MIN_COLUMN_LINES else None


def _text(words: list[Word]) -> str:
    return " ".join(word.text for word in words)


def _table(lines: list[list[list[Word]]]) -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(cell))}</td>" for cell in cells) + "</tr>"
        for cells in lines
    )
    return f"<table>{rows}</table>"


def _blocks(rows: list[Row], height: float) -> list[str]:
    """Blocks of one column (or of a page without columns), top to bottom."""
    gap = CELL_GAP * height
    split = [_cells(row, gap) for row in rows]
    gaps = sorted(b.top - a.bottom for a, b in pairwise(rows) if b.top > a.bottom)
    usual = gaps[len(gaps) // 4] if gaps else 0
    paragraph = usual + PARAGRAPH_GAP * height
    blocks: list[str] = []
    i = 0
    previous: Row | None = None
    while i < len(rows):
        count = len(split[i])
        end = i
        while count >= 2 and end + 1 < len(rows) and len(split[end + 1]) == count:
            end += 1
        if end > i:
            blocks.append(_table(split[i : end + 1]))
            previous, i = rows[end], end + 1
            continue
        row = rows[i]
        words = [w for cell in split[i] for w in cell]
        if not words:  # only ruled lines
            i += 1
            continue
        text = _text(words)
        tall = median(w.height for w in words) >= HEADING_SCALE * height
        if tall:
            blocks.append(f"# {text}")
        elif (
            previous is not None
            and blocks
            and not blocks[-1].startswith(("# ", "<table>"))
            and row.top - previous.bottom <= paragraph
            and not _FIELD.match(text)
        ):
            blocks[-1] += f" {text}"
        else:
            blocks.append(text)
        previous, i = row, i + 1
    return blocks


def page_markdown(rows: list[Row]) -> str:
    """The page read as ``rows`` written as Markdown (module docstring)."""
    words = [word for row in rows for word in row.words if not _is_rule(word)]
    if not words:
        return ""
    height = float(median(w.height for w in words))
    gutter = _gutter(rows, CELL_GAP * height)
    if gutter is None:
        return "\n\n".join(_blocks(rows, height))
    blocks: list[str] = []
    band: list[Word] = []

    def flush() -> None:
        left = [w for w in band if w.left + w.width / 2 < gutter]
        right = [w for w in band if w.left + w.width / 2 >= gutter]
        for side in (left, right):
            if side:
                blocks.extend(_blocks(group_rows(side), height))
        band.clear()

    for row in rows:
        if any(w.left < gutter < w.left + w.width for w in row.words):
            flush()
            blocks.extend(_blocks([row], height))
        else:
            band.extend(row.words)
    flush()
    return "\n\n".join(blocks)
