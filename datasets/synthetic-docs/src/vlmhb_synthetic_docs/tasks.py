"""Load a generated folder's samples for one task with vlmhb-dataset-factory's iterators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmhb_dataset_factory import Dataset, read_jsonl, read_vqa_csv

# Task -> records file in a generated folder: the first three are written by ``generate``,
# the multi-page ones by ``generate_packets``, page parsing by ``generate_pages``.
TASK_FILES = {
    "vqa": "annotation.csv",
    "ocr": "ocr.jsonl",
    "fields": "fields.jsonl",
    "doc-classification": "doc_classification.jsonl",
    "page-order": "page_order.jsonl",
    "doc-parsing": "doc_parsing.jsonl",
}
TASKS = tuple(TASK_FILES)


def load_task(out_dir: str | Path, task: str, **options: Any) -> Dataset:
    """``vqa``: a question per field; ``ocr``: full text per image; ``fields``: JSON per image;
    ``doc-classification``: a label per packet of pages; ``page-order``: the order per packet;
    ``doc-parsing``: the page as Markdown (tables as HTML) per page."""
    if task not in TASK_FILES:
        raise ValueError(f"task: expected one of {', '.join(TASKS)}, got {task!r}")
    path = Path(out_dir) / TASK_FILES[task]
    if task == "vqa":
        return read_vqa_csv(path, **options)
    return read_jsonl(path, **options)
