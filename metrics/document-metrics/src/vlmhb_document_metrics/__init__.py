"""Page-parsing metrics with OmniDocBench's definitions.

A page answer is Markdown with tables as HTML; :func:`split_page` cuts it into text blocks
and tables, :func:`score_page` matches them to the reference's, and the four metrics
(``text_edit_distance``, ``reading_order_edit_distance``, ``teds``, ``teds_s``) aggregate
the pages. :func:`table_scores` gives TEDS and TEDS-S of two HTML tables alone.
"""

from vlmhb_document_metrics._result import MetricResult, metric
from vlmhb_document_metrics.matching import PageScores, score_page
from vlmhb_document_metrics.metrics import (
    reading_order_edit_distance,
    teds,
    teds_s,
    text_edit_distance,
)
from vlmhb_document_metrics.normalize import clean_text
from vlmhb_document_metrics.page import Block, pipe_table_html, split_page
from vlmhb_document_metrics.tables import (
    TableNode,
    normalize_table,
    table_scores,
    tree_edit_distance,
)

METRICS = (text_edit_distance, reading_order_edit_distance, teds, teds_s)

__all__ = [
    "METRICS",
    "Block",
    "MetricResult",
    "PageScores",
    "TableNode",
    "clean_text",
    "metric",
    "normalize_table",
    "pipe_table_html",
    "reading_order_edit_distance",
    "score_page",
    "split_page",
    "table_scores",
    "teds",
    "teds_s",
    "text_edit_distance",
    "tree_edit_distance",
]
