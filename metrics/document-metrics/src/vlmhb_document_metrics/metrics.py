"""The four page-parsing metrics: ``metric(predictions, references) -> MetricResult``.

Each prediction is a model's Markdown answer for one page (tables as HTML or pipe tables);
each reference is the page's ground truth in the same Markdown form. Every metric scores
all pages with :func:`~vlmhb_document_metrics.matching.score_page` (cached, so the four
together match each page once).

Aggregates follow OmniDocBench: text and reading-order edit distances are the mean over the
pages that have a score (a page with no text on either side has none: NaN in
``per_sample``); TEDS and TEDS-S are the mean over all reference tables, so a page with
three tables weighs three times (``details`` carries each page's sum and count). No
``details["ratio"]`` is given for the bootstrap to recompute: on a set where most pages
have no table, most resamples would hold too few tables; the CI is over the pages that have
tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from vlmhb_document_metrics._result import MetricResult, metric
from vlmhb_document_metrics.matching import PageScores, score_page


def _pages(predictions: Any, references: Any) -> list[PageScores]:
    """Score every pair; bad input is a ValueError naming the sample and what was expected."""
    for role, value in (("predictions", predictions), ("references", references)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ValueError(
                f"{role} must be a list of Markdown pages, one per sample; "
                f"got {type(value).__name__}"
            )
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references differ in length: {len(predictions)} predictions, "
            f"{len(references)} references"
        )
    for role, values in (("predictions", predictions), ("references", references)):
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise ValueError(
                    f"{role}[{i}] is {type(value).__name__}; expected a Markdown string "
                    "(use '' for an empty answer)"
                )
    return [score_page(p, r) for p, r in zip(predictions, references, strict=True)]


def _page_mean(func: Any, values: list[float], unscored: str) -> MetricResult:
    scored = [v for v in values if not math.isnan(v)]
    return MetricResult(
        name=func.name,
        version=func.version,
        value=sum(scored) / len(scored) if scored else math.nan,
        per_sample=values,
        details={"pages_scored": len(scored), unscored: len(values) - len(scored)},
        params={},
    )


@metric("text_edit_distance", "1")
def text_edit_distance(predictions: Sequence[str], references: Sequence[str]) -> MetricResult:
    """OmniDocBench's text edit distance (0 best, 1 worst), mean over pages with text."""
    pages = _pages(predictions, references)
    result = _page_mean(
        text_edit_distance, [p.text_edit_distance for p in pages], "pages_without_text"
    )
    result.details["edits"] = sum(p.text_edits for p in pages)
    result.details["characters"] = sum(p.text_length for p in pages)
    return result


@metric("reading_order_edit_distance", "1")
def reading_order_edit_distance(
    predictions: Sequence[str], references: Sequence[str]
) -> MetricResult:
    """OmniDocBench's reading-order edit distance (0 best, 1 worst), mean over pages."""
    pages = _pages(predictions, references)
    return _page_mean(
        reading_order_edit_distance, [p.reading_order for p in pages], "pages_without_text"
    )


def _table_mean(func: Any, pages: list[PageScores], which: int) -> MetricResult:
    sums = [sum(t[which] for t in p.tables) for p in pages]
    counts = [len(p.tables) for p in pages]
    total = sum(counts)
    return MetricResult(
        name=func.name,
        version=func.version,
        value=sum(sums) / total if total else math.nan,
        per_sample=[s / n if n else math.nan for s, n in zip(sums, counts, strict=True)],
        details={
            "tables": total,
            "pages_with_tables": sum(1 for n in counts if n),
            "table_sums": sums,
            "table_counts": counts,
        },
        params={},
    )


@metric("teds", "1")
def teds(predictions: Sequence[str], references: Sequence[str]) -> MetricResult:
    """TEDS of every reference table against its matched prediction (1 best), table mean."""
    return _table_mean(teds, _pages(predictions, references), 0)


@metric("teds_s", "1")
def teds_s(predictions: Sequence[str], references: Sequence[str]) -> MetricResult:
    """TEDS-S: TEDS on the table structure alone (cell content ignored), table mean."""
    return _table_mean(teds_s, _pages(predictions, references), 1)
