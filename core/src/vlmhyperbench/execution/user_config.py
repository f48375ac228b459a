"""``user_config.csv`` of VLMHyperBench v0.1 as an experiment: one inline run per row.

``vlmhb_v01.read_user_config`` reads the cells (columns, list literals, booleans); this module
resolves them against the registry. Unlike v0.1, ``system_prompt`` and
``only_evaluate_metrics`` are honoured, and each filter applies on its own. Every problem of
every row is collected and reported at once, as ``file:row: column: what was expected``.

Cells resolve the way v0.1 did: a dataset by name; a prompt collection by an entry name, the
entry ``vlmhb import v01`` made for it, or a CSV path relative to
``data_dirs/PromptCollections/<task>/`` (then next to the user_config); the ``framework``
column must match the model's framework.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmhb_v01 import (
    PromptCollectionError,
    UserConfigError,
    UserConfigRow,
    prompt_collection_files,
    prompt_entry_name,
    read_prompt_collection,
    read_user_config,
    slug,
)

from ..registry import Registry
from ..registry.models import ExperimentEntry, InlineRun, PromptEntry, SampleFilters
from .identity import content_hash

__all__ = ["V01_REPORTS", "UserConfigError", "experiment_from_user_config"]

V01_REPORTS = ["leaderboard", "html-report", "v01"]


class _Resolver:
    """One row against the registry, collecting problems instead of stopping at the first."""

    def __init__(self, registry: Registry, row: UserConfigRow) -> None:
        self.registry = registry
        self.row = row
        self.problems: list[str] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(self.row.problem(column, message))

    def cell_problem(self, column: str) -> None:
        """The problem the reader found in this cell, if any, at this point of the order."""
        if column in self.row.problems:
            self.problems.append(self.row.problems[column])

    def entry(self, kind: str, column: str, value: str) -> str | None:
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

    def framework(self, model: str | None) -> None:
        row = self.row
        if model is None or not row.framework:
            return
        entry = self.registry.get("models", model)
        wanted = row.framework_entry
        if wanted is None:
            self.cell_problem("framework")
        elif entry.framework is not None and entry.framework != wanted:
            self.problem(
                "framework",
                f"{row.framework!r} does not serve model {model!r}, whose framework is "
                f"{entry.framework!r}; fix the cell or the model",
            )

    def prompt(self, extra: dict[str, PromptEntry]) -> str | None:
        registry, row = self.registry, self.row
        cell, task_cell = row.prompt_collection, row.prompt_task
        base_name: str | None = None
        collection: dict[str, str] | None = None
        if cell:
            imported = prompt_entry_name(task_cell, cell)
            if cell in registry.names("prompts"):
                base_name = cell
            elif imported in registry.names("prompts"):
                base_name = imported
            else:
                tried = prompt_collection_files(row.path, task_cell, cell)
                found = next((p for p in tried if p.is_file()), None)
                if found is None:
                    self.problem(
                        "prompt_collection",
                        f"{cell!r} is neither a prompt entry, nor imported as {imported!r}, nor a "
                        f"CSV under PromptCollections/{task_cell}/ or beside {row.path.name}; run "
                        "`vlmhb import v01 PATH` or `vlmhb import prompts FILE NAME`",
                    )
                    return None
                try:
                    collection = read_prompt_collection(found)
                except PromptCollectionError as exc:
                    self.problem("prompt_collection", str(exc))
                    return None
        if base_name and not row.system_prompt:
            return base_name
        base = registry.get("prompts", base_name) if base_name else None
        inherited = registry.prompt_collection(base) if base else {}
        entry = PromptEntry(
            name=slug(
                f"user-{Path(cell).stem or 'question'}-{content_hash(cell, row.system_prompt)[:8]}"
            ),
            template=base.template if base else "{question}",
            collection={**inherited, **(collection or {})} or None,
            system_prompt=row.system_prompt or (base.system_prompt if base else None),
            response_format=base.response_format if base else "text",
        )
        extra[entry.name] = entry
        return entry.name

    def run(self, extra: dict[str, PromptEntry]) -> InlineRun | None:
        row = self.row
        dataset = self.entry("datasets", "dataset", row.dataset)
        task = self.entry("tasks", "task", row.task)
        model = self.entry("models", "model_name", row.model_name)
        self.framework(model)
        self.cell_problem("metrics")
        metrics = [self.entry("metrics", "metrics", m) for m in row.metrics]
        self.cell_problem("metrics_aggregators")
        if dataset is not None and task is not None:
            annotated = self.registry.get("datasets", dataset).task
            if annotated != task:
                self.problem("task", f"dataset {dataset!r} is annotated for task {annotated!r}")
        prompt = self.prompt(extra)
        self.cell_problem("filter_doc_class")
        self.cell_problem("filter_question_type")
        if self.problems or None in (dataset, task, model, prompt) or None in metrics:
            return None
        return InlineRun(
            name=f"row{row.line - 1}-{model}-{dataset}",
            task=task,  # type: ignore[arg-type]
            model=model,  # type: ignore[arg-type]
            dataset=dataset,  # type: ignore[arg-type]
            prompt=prompt,  # type: ignore[arg-type]
            metrics=[m for m in metrics if m] or None,
            aggregators=row.metrics_aggregators,  # type: ignore[arg-type]
            filters=SampleFilters(
                doc_class=row.filter_doc_class or None,
                question_type=row.filter_question_type or None,
            ),
            only_evaluate=row.only_evaluate_metrics,
        )


def experiment_from_user_config(
    path: Path, registry: Registry
) -> tuple[ExperimentEntry, dict[str, Any]]:
    """An experiment with one inline run per row, plus prompt entries the rows bring along.

    Raises ``UserConfigError`` listing every problem of every row.
    """
    runs: list[InlineRun] = []
    problems: list[str] = []
    extra_prompts: dict[str, PromptEntry] = {}
    for row in read_user_config(path):
        resolver = _Resolver(registry, row)
        run = resolver.run(extra_prompts)
        problems += resolver.problems
        if run is not None:
            runs.append(run)
    if problems:
        raise UserConfigError([*problems, f"{len(problems)} problem(s) in {path}"])
    entry = ExperimentEntry(name=slug(Path(path).stem), runs=runs, reports=V01_REPORTS)
    return entry, extra_prompts
