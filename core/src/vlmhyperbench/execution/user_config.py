"""``user_config.csv`` of VLMHyperBench v0.1: one run per row, read as users have it.

Columns: dataset; task; framework; model_name; system_prompt; prompt_collection; metrics;
only_evaluate_metrics; metrics_aggregators; filter_doc_class; filter_question_type.
List cells are Python literals (``['WER', 'CER']``). Unlike v0.1, ``system_prompt`` and
``only_evaluate_metrics`` are honoured, and each filter applies on its own. Every problem of
every row is collected and reported at once, as ``file:row: column: what was expected``.

Cells resolve the way v0.1 did: a dataset by name; a prompt collection by an entry name, the
entry ``vlmhb import v01`` made for it, or a CSV path relative to
``data_dirs/PromptCollections/<task>/`` (then next to the user_config); the ``framework``
column must match the model's framework.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path
from typing import Any

from ..migration.v01 import FRAMEWORKS, prompt_entry_name, slug
from ..registry import Registry
from ..registry.models import ExperimentEntry, InlineRun, PromptEntry, SampleFilters
from ..registry.prompt_collection import PromptCollectionError, read_prompt_collection
from .identity import content_hash

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
AGGREGATORS = ("general", "by_doc_type", "by_doc_question", "by_id")
V01_REPORTS = ["leaderboard", "html-report", "v01"]
_TRUE = {"true", "1", "yes", "да"}


class UserConfigError(ValueError):
    """Every problem of a user_config, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Row:
    """One row's cells, collecting problems instead of stopping at the first."""

    def __init__(self, registry: Registry, path: Path, line: int, cells: dict[str, str]) -> None:
        self.registry = registry
        self.path = path
        self.where = f"{path}:{line}"
        self.cells = cells
        self.problems: list[str] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(f"{self.where}: {column}: {message}")

    def list(self, column: str) -> list[str]:
        cell = self.cells.get(column, "").strip()
        if not cell or cell.lower() in {"none", "nan", "[]"}:
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

    def entry(self, kind: str, column: str, value: str | None = None) -> str | None:
        value = self.cells.get(column, "").strip() if value is None else value
        if not value:
            self.problem(column, f"expected the name of a {kind} entry, got an empty cell")
            return None
        for name in (value, value.lower(), slug(value), slug(value).lower()):
            if name in self.registry.names(kind):
                return name
        hint = ""
        if kind == "datasets":
            hint = (
                "; bring a v0.1 dataset in with `vlmhb import v01 PATH` or `vlmhb import dataset`"
            )
        known = ", ".join(self.registry.names(kind)) or "none"
        self.problem(column, f"no {kind} entry named {value!r} (known: {known}){hint}")
        return None


def _prompt_collection_files(path: Path, task: str, cell: str) -> list[Path]:
    """Where v0.1 looked for a collection cell: data_dirs/PromptCollections/<task>/, then
    beside the user_config (for configs kept outside a v0.1 tree)."""
    candidates = []
    for folder in [path.parent, *path.parent.parents]:
        for data_dirs in (folder / "data_dirs", folder):
            for task_dir in (task, task.upper(), task.lower()):
                candidates.append(data_dirs / "PromptCollections" / task_dir / cell)
    candidates.append(path.parent / cell)
    return list(dict.fromkeys(candidates))


def _prompt_for(row: _Row, task_cell: str, extra: dict[str, PromptEntry]) -> str | None:
    registry = row.registry
    cell = row.cells.get("prompt_collection", "").strip()
    system_prompt = row.cells.get("system_prompt", "").strip()
    base_name: str | None = None
    collection: dict[str, str] | None = None
    if cell:
        imported = prompt_entry_name(task_cell, cell)
        if cell in registry.names("prompts"):
            base_name = cell
        elif imported in registry.names("prompts"):
            base_name = imported
        else:
            tried = _prompt_collection_files(row.path, task_cell, cell)
            found = next((p for p in tried if p.is_file()), None)
            if found is None:
                row.problem(
                    "prompt_collection",
                    f"{cell!r} is neither a prompt entry, nor imported as {imported!r}, nor a CSV "
                    f"under PromptCollections/{task_cell}/ or beside {row.path.name}; run "
                    "`vlmhb import v01 PATH` or `vlmhb import prompts FILE NAME`",
                )
                return None
            try:
                collection = read_prompt_collection(found)
            except PromptCollectionError as exc:
                row.problem("prompt_collection", str(exc))
                return None
    if base_name and not system_prompt:
        return base_name
    base = registry.get("prompts", base_name) if base_name else None
    entry = PromptEntry(
        name=slug(f"user-{Path(cell).stem or 'question'}-{content_hash(cell, system_prompt)[:8]}"),
        template=base.template if base else "{question}",
        collection={**(registry.prompt_collection(base) if base else {}), **(collection or {})}
        or None,
        system_prompt=system_prompt or (base.system_prompt if base else None),
        response_format=base.response_format if base else "text",
    )
    extra[entry.name] = entry
    return entry.name


def _run_for(row: _Row, line: int, extra: dict[str, PromptEntry]) -> InlineRun | None:
    registry = row.registry
    dataset = row.entry("datasets", "dataset")
    task = row.entry("tasks", "task")
    model = row.entry("models", "model_name")
    framework_cell = row.cells.get("framework", "").strip()
    if model is not None and framework_cell:
        wanted = FRAMEWORKS.get(framework_cell.lower())
        entry = registry.get("models", model)
        if wanted is None:
            row.problem(
                "framework",
                f"expected one of Hugging Face, vLLM, OCR, DeepSeek, got {framework_cell!r}",
            )
        elif entry.framework is not None and entry.framework != wanted:
            row.problem(
                "framework",
                f"{framework_cell!r} does not serve model {model!r}, whose framework is "
                f"{entry.framework!r}; fix the cell or the model",
            )
    metrics = [row.entry("metrics", "metrics", m) for m in row.list("metrics")]
    aggregators = row.list("metrics_aggregators") or ["general"]
    bad = [a for a in aggregators if a not in AGGREGATORS]
    if bad:
        row.problem("metrics_aggregators", f"expected some of {', '.join(AGGREGATORS)}, got {bad}")
    if dataset is not None and task is not None:
        annotated = registry.get("datasets", dataset).task
        if annotated != task:
            row.problem("task", f"dataset {dataset!r} is annotated for task {annotated!r}")
    prompt = _prompt_for(row, row.cells.get("task", "").strip() or "VQA", extra)
    doc_class = row.list("filter_doc_class") or None
    question_type = row.list("filter_question_type") or None
    if row.problems or None in (dataset, task, model, prompt) or None in metrics:
        return None
    return InlineRun(
        name=f"row{line - 1}-{model}-{dataset}",
        task=task,  # type: ignore[arg-type]
        model=model,  # type: ignore[arg-type]
        dataset=dataset,  # type: ignore[arg-type]
        prompt=prompt,  # type: ignore[arg-type]
        metrics=[m for m in metrics if m] or None,
        aggregators=aggregators,  # type: ignore[arg-type]
        filters=SampleFilters(doc_class=doc_class, question_type=question_type),
        only_evaluate=row.cells.get("only_evaluate_metrics", "").strip().lower() in _TRUE,
    )


def experiment_from_user_config(
    path: Path, registry: Registry
) -> tuple[ExperimentEntry, dict[str, Any]]:
    """An experiment with one inline run per row, plus prompt entries the rows bring along.

    Raises ``UserConfigError`` listing every problem of every row.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserConfigError([f"{path}: cannot read: {exc}"]) from exc
    reader = csv.DictReader(text.splitlines(), delimiter=";")
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("dataset", "task", "model_name") if c not in header]
    if missing:
        raise UserConfigError(
            [f"{path}:1: missing columns {', '.join(missing)}; expected {';'.join(COLUMNS)}"]
        )
    reader.fieldnames = header
    runs: list[InlineRun] = []
    problems: list[str] = []
    extra_prompts: dict[str, PromptEntry] = {}
    for line, raw in enumerate(reader, start=2):
        cells = {k: (v or "").strip() for k, v in raw.items() if k}
        row = _Row(registry, path, line, cells)
        run = _run_for(row, line, extra_prompts)
        problems += row.problems
        if run is not None:
            runs.append(run)
    if problems:
        raise UserConfigError([*problems, f"{len(problems)} problem(s) in {path}"])
    if not runs:
        raise UserConfigError([f"{path}: no rows; expected one run per row"])
    entry = ExperimentEntry(name=slug(path.stem), runs=runs, reports=V01_REPORTS)
    return entry, extra_prompts
