"""``user_config.csv`` of VLMHyperBench v0.1, read cell by cell into plain typed rows.

Columns: dataset; task; framework; model_name; system_prompt; prompt_collection; metrics;
only_evaluate_metrics; metrics_aggregators; filter_doc_class; filter_question_type.
List cells are Python literals (``['WER', 'CER']``), booleans are ``True``/``1``/``yes``/``да``.

This module only reads what the cells say; naming a registry entry (a dataset, a model, a
prompt) is the reader's job (the core resolves rows against its registry). A cell that cannot
be read becomes a problem ``file:row: column: what was expected`` kept on its row under its
column, so that a resolver can report every problem of every row at once, in column order,
instead of stopping at the first.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass, field
from pathlib import Path

from .tree import FRAMEWORKS

COLUMNS = (
    "dataset",
    "task",
    "framework",
    "model_name",
    "system_prompt",
    "prompt_collection",
    "metrics",
    "only_evaluate_metrics",
    "metrics_aggregators",
    "filter_doc_class",
    "filter_question_type",
)
REQUIRED_COLUMNS = ("dataset", "task", "model_name")
AGGREGATORS = ("general", "by_doc_type", "by_doc_question", "by_id")
DEFAULT_TASK = "VQA"
"""What an empty ``task`` cell means when looking for a prompt collection file."""
_TRUE = {"true", "1", "yes", "да"}
_EMPTY_LIST = {"none", "nan", "[]"}


class UserConfigError(ValueError):
    """Every problem of a user_config, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class UserConfigRow:
    """One row's cells, stripped and typed; ``problems`` maps a column to the message of the
    cell that could not be read (its typed value is then the column's empty default)."""

    path: Path
    line: int
    dataset: str
    task: str
    framework: str
    """The cell as written (``Hugging Face``); see :attr:`framework_entry`."""
    model_name: str
    system_prompt: str
    prompt_collection: str
    metrics: list[str]
    only_evaluate_metrics: bool
    metrics_aggregators: list[str]
    """``['general']`` when the cell is empty, as in v0.1."""
    filter_doc_class: list[str]
    filter_question_type: list[str]
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def framework_entry(self) -> str | None:
        """The framework entry the ``framework`` cell names; None when empty or unknown (an
        unknown one is a problem under ``framework``)."""
        return FRAMEWORKS.get(self.framework.lower()) if self.framework else None

    @property
    def prompt_task(self) -> str:
        """The task folder a prompt collection path is relative to."""
        return self.task or DEFAULT_TASK

    def problem(self, column: str, message: str) -> str:
        """The line that reports ``message`` about this row's ``column``."""
        return f"{self.where}: {column}: {message}"


class _Cells:
    def __init__(self, path: Path, line: int, cells: dict[str, str]) -> None:
        self.where = f"{path}:{line}"
        self.cells = cells
        self.problems: dict[str, str] = {}

    def text(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def list(self, column: str) -> list[str]:
        cell = self.text(column)
        if not cell or cell.lower() in _EMPTY_LIST:
            return []
        if not cell.startswith("["):
            return [cell]
        try:
            value = ast.literal_eval(cell)
        except (ValueError, SyntaxError):
            self.problem(column, f"expected a Python list literal like ['a', 'b'], got {cell!r}")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(column, f"expected a list of strings, got {cell!r}")
            return []
        return value

    def problem(self, column: str, message: str) -> None:
        self.problems.setdefault(column, f"{self.where}: {column}: {message}")


def parse_row(path: Path, line: int, cells: dict[str, str]) -> UserConfigRow:
    """One row (cells by column name) as typed values plus the problems of its cells."""
    c = _Cells(path, line, cells)
    framework = c.text("framework")
    if framework and FRAMEWORKS.get(framework.lower()) is None:
        c.problem(
            "framework", f"expected one of Hugging Face, vLLM, OCR, DeepSeek, got {framework!r}"
        )
    metrics = c.list("metrics")
    aggregators = c.list("metrics_aggregators") or ["general"]
    bad = [a for a in aggregators if a not in AGGREGATORS]
    if bad:
        c.problem("metrics_aggregators", f"expected some of {', '.join(AGGREGATORS)}, got {bad}")
    return UserConfigRow(
        path=path,
        line=line,
        dataset=c.text("dataset"),
        task=c.text("task"),
        framework=framework,
        model_name=c.text("model_name"),
        system_prompt=c.text("system_prompt"),
        prompt_collection=c.text("prompt_collection"),
        metrics=metrics,
        only_evaluate_metrics=c.text("only_evaluate_metrics").lower() in _TRUE,
        metrics_aggregators=aggregators,
        filter_doc_class=c.list("filter_doc_class"),
        filter_question_type=c.list("filter_question_type"),
        problems=c.problems,
    )


def read_user_config(path: Path) -> list[UserConfigRow]:
    """Every row of a user_config.csv (``;``-separated, UTF-8 with or without a BOM).

    Raises ``UserConfigError`` when the file cannot be read, lacks a required column or has
    no rows; a bad cell is not raised but kept on its row (``UserConfigRow.problems``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserConfigError([f"{path}: cannot read: {exc}"]) from exc
    reader = csv.DictReader(text.splitlines(), delimiter=";")
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UserConfigError(
            [f"{path}:1: missing columns {', '.join(missing)}; expected {';'.join(COLUMNS)}"]
        )
    reader.fieldnames = header
    rows = [
        parse_row(path, line, {k: (v or "").strip() for k, v in raw.items() if k})
        for line, raw in enumerate(reader, start=2)
    ]
    if not rows:
        raise UserConfigError([f"{path}: no rows; expected one run per row"])
    return rows


def prompt_collection_files(config: Path, task: str, cell: str) -> list[Path]:
    """Where v0.1 looked for a collection cell, in order: ``data_dirs/PromptCollections/<task>/``
    above the user_config, then beside it (for configs kept outside a v0.1 tree)."""
    candidates = []
    for folder in [config.parent, *config.parent.parents]:
        for data_dirs in (folder / "data_dirs", folder):
            for task_dir in (task, task.upper(), task.lower()):
                candidates.append(data_dirs / "PromptCollections" / task_dir / cell)
    candidates.append(config.parent / cell)
    return list(dict.fromkeys(candidates))
