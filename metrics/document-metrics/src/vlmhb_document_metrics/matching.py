"""One page scored: predicted blocks matched to reference blocks, as OmniDocBench does.

OmniDocBench's ``simple_match``, written from its definition:

* **Tables.** Reference tables are matched one-to-one to predicted tables by the Hungarian
  algorithm on the normalised Levenshtein distance of their HTML. A matched pair gets its
  TEDS and TEDS-S; a reference table left without a partner scores 0. Predicted tables left
  over (when the reference has tables) give their non-empty cells to the text blocks below,
  in cell order, at the table's place; when the reference has no table, predicted tables are
  not scored at all.
* **Text.** Text blocks are normalised (:func:`~vlmhb_document_metrics.normalize.clean_text`;
  blocks empty after it are dropped) and matched one-to-one by the Hungarian algorithm on
  their normalised Levenshtein distance (``distance / max(len)``). A matched pair counts its
  Levenshtein distance over the longer length; a reference block without a partner counts
  all its characters as edits; the predicted blocks without a partner are joined into one
  block that counts all its characters. The page's text edit distance is total edits over
  total lengths.
* **Reading order.** The reference text blocks that took part, by their reference order,
  against the reference positions of the matched pairs sorted by where the prediction put
  them: the Levenshtein distance of the two sequences over the longer length.

A page whose reference and prediction hold no text has no text or reading-order score
(NaN); a page whose reference holds no table has no TEDS (NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from lxml import html
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist
from scipy.optimize import linear_sum_assignment

from vlmhb_document_metrics.normalize import clean_text
from vlmhb_document_metrics.page import Block, split_page
from vlmhb_document_metrics.tables import table_scores


@dataclass(frozen=True)
class PageScores:
    """Everything the four metrics read from one (prediction, reference) page pair."""

    text_edits: int
    text_length: int
    tables: tuple[tuple[float, float], ...]  # (TEDS, TEDS-S) per reference table
    reading_order: float  # NaN when neither side has text

    @property
    def text_edit_distance(self) -> float:
        if self.text_length == 0:
            return math.nan
        return self.text_edits / self.text_length


def _assignment(gt: list[str], pred: list[str]) -> list[tuple[int, int]]:
    """Hungarian assignment on the normalised Levenshtein distance; (gt, pred) index pairs."""
    costs = cdist(gt, pred, scorer=Levenshtein.normalized_distance, dtype=np.float64, workers=1)
    rows, cols = linear_sum_assignment(costs)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


def _cells(table: str) -> list[str]:
    """The non-empty cell texts of a predicted table, in document order."""
    try:
        root = html.fromstring(table)
    except (ValueError, html.etree.ParserError):
        return []
    texts = [cell.text_content().strip() for cell in root.iter("td", "th")]
    return [text for text in texts if text]


@dataclass(frozen=True)
class _Text:
    norm: str
    position: tuple[int, int]  # (block offset, cell index) in the prediction
    order: int  # 1-based place among the reference's blocks (reference side only)


def _match_tables(
    gt_tables: list[Block], pred_tables: list[Block]
) -> tuple[list[tuple[float, float]], list[Block]]:
    if not gt_tables:
        return [], []
    scores = [(0.0, 0.0)] * len(gt_tables)
    if not pred_tables:
        return scores, []
    pairs = _assignment([b.content for b in gt_tables], [b.content for b in pred_tables])
    for g, p in pairs:
        scores[g] = table_scores(pred_tables[p].content, gt_tables[g].content)
    used = {p for _, p in pairs}
    return scores, [b for i, b in enumerate(pred_tables) if i not in used]


def _text_scores(gt: list[_Text], pred: list[_Text]) -> tuple[int, int, float]:
    """(edits, length, reading-order edit distance) of one page's text blocks."""
    if not gt and not pred:
        return 0, 0, math.nan
    if not pred:
        length = sum(len(t.norm) for t in gt)
        return length, length, 1.0
    if not gt:
        length = len("".join(t.norm for t in pred))
        return length, length, math.nan
    pairs = _assignment([t.norm for t in gt], [t.norm for t in pred])
    edits = length = 0
    matched_gt = {g for g, _ in pairs}
    for g, p in pairs:
        edits += Levenshtein.distance(gt[g].norm, pred[p].norm)
        length += max(len(gt[g].norm), len(pred[p].norm))
    for g, text in enumerate(gt):
        if g not in matched_gt:
            edits += len(text.norm)
            length += len(text.norm)
    matched_pred = {p for _, p in pairs}
    leftover = len("".join(t.norm for p, t in enumerate(pred) if p not in matched_pred))
    edits += leftover
    length += leftover
    reference_order = sorted(t.order for t in gt)
    predicted_order = [gt[g].order for g, p in sorted(pairs, key=lambda gp: pred[gp[1]].position)]
    longest = max(len(reference_order), len(predicted_order))
    order = Levenshtein.distance(reference_order, predicted_order) / longest
    return edits, length, order


@lru_cache(maxsize=8192)
def score_page(prediction: str, reference: str) -> PageScores:
    """Score one page (module docstring); cached, as the four metrics read the same pairs."""
    gt_blocks, pred_blocks = split_page(reference), split_page(prediction)
    gt_tables = [b for b in gt_blocks if b.kind == "table"]
    pred_tables = [b for b in pred_blocks if b.kind == "table"]
    tables, leftover = _match_tables(gt_tables, pred_tables)
    gt_text = [
        _Text(clean_text(b.content), (b.position, 0), order)
        for order, b in enumerate(gt_blocks, start=1)
        if b.kind == "text"
    ]
    pred_text = [_Text(clean_text(b.content), (b.position, 0), 0) for b in pred_blocks]
    pred_text = [t for t, b in zip(pred_text, pred_blocks, strict=True) if b.kind == "text"]
    for table in leftover:
        for i, cell in enumerate(_cells(table.content)):
            pred_text.append(_Text(clean_text(cell), (table.position, i), 0))
    edits, length, order = _text_scores(
        [t for t in gt_text if t.norm], [t for t in pred_text if t.norm]
    )
    return PageScores(edits, length, tuple(tables), order)
