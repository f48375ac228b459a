"""``user_config.csv`` of VLMHyperBench v0.1 as an experiment: one inline run per row.

:func:`read_user_config` reads the cells; this module resolves them against a registry seen
through :class:`RegistryView` (two methods, plain dicts), so that it needs no core: the core
passes a view over its ``Registry`` and validates the plain data this returns into its own
models. Unlike v0.1, ``system_prompt`` and ``only_evaluate_metrics`` are honoured, and each
filter applies on its own. Every problem of every row is collected and reported at once, as
``file:row: column: what was expected``, in row order and, within a row, in column order.

Cells resolve the way v0.1 did: a dataset by name; a prompt collection by an entry name, the
entry ``vlmhb import v01`` made for it, or a CSV path relative to
``data_dirs/PromptCollections/<task>/`` (then next to the user_config); the ``framework``
column must match the model's framework.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

from .prompt_collection import PromptCollectionError, read_prompt_collection
from .tree import prompt_entry_name, slug
from .user_config import UserConfigError, UserConfigRow, prompt_collection_files, read_user_config

__all__ = ["V01_REPORTS", "RegistryView", "resolve_user_config"]

V01_REPORTS = ["leaderboard", "html-report", "v01"]
"""The report entries an experiment made from a user_config lists: what v0.1 users look at."""


class RegistryView(Protocol):
    """What resolving a user_config needs from a registry; entries as plain dicts.

    ``entry`` is called for ``models`` (reads ``framework``), ``datasets`` (reads ``task``) and
    ``prompts`` (reads ``template``, ``system_prompt``, ``response_format`` and ``collection``,
    which must be the *resolved* collection: file references already read, ``{}`` if none).
    """

    def names(self, kind: str) -> list[str]:
        """Entry names of ``kind`` (``datasets``, ``tasks``, ``models``, ``metrics``, ...)."""
        ...

    def entry(self, kind: str, name: str) -> dict[str, Any]:
        """The entry ``name`` of ``kind``, one of :meth:`names`, as a plain dict."""
        ...


def _hash8(*parts: str) -> str:
    """The first 8 hex digits of the core's ``content_hash`` of these strings: the generated
    prompt names must stay what earlier runs (and their work dirs) used."""
    payload = json.dumps(list(parts), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]


class _Resolver:
    """One row against the registry, collecting problems instead of stopping at the first."""

    def __init__(self, registry: RegistryView, row: UserConfigRow) -> None:
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
        names = self.registry.names(kind)
        for name in (value, value.lower(), slug(value), slug(value).lower()):
            if name in names:
                return name
        hint = ""
        if kind == "datasets":
            hint = (
                "; bring a v0.1 dataset in with `vlmhb import v01 PATH` or `vlmhb import dataset`"
            )
        known = ", ".join(names) or "none"
        self.problem(column, f"no {kind} entry named {value!r} (known: {known}){hint}")
        return None

    def framework(self, model: str | None) -> None:
        row = self.row
        if model is None or not row.framework:
            return
        served_by = self.registry.entry("models", model).get("framework")
        wanted = row.framework_entry
        if wanted is None:
            self.cell_problem("framework")
        elif served_by is not None and served_by != wanted:
            self.problem(
                "framework",
                f"{row.framework!r} does not serve model {model!r}, whose framework is "
                f"{served_by!r}; fix the cell or the model",
            )

    def prompt(self, extra: dict[str, dict[str, Any]]) -> str | None:
        """The prompt entry the row uses; a new one (added to ``extra``) when the row brings a
        CSV collection or a system prompt."""
        registry, row = self.registry, self.row
        cell, task_cell = row.prompt_collection, row.prompt_task
        base_name: str | None = None
        collection: dict[str, str] | None = None
        if cell:
            imported = prompt_entry_name(task_cell, cell)
            names = registry.names("prompts")
            if cell in names:
                base_name = cell
            elif imported in names:
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
        base = registry.entry("prompts", base_name) if base_name else None
        inherited = (base.get("collection") or {}) if base else {}
        name = slug(f"user-{Path(cell).stem or 'question'}-{_hash8(cell, row.system_prompt)}")
        extra[name] = {
            "name": name,
            "template": base.get("template") if base else "{question}",
            "collection": {**inherited, **(collection or {})} or None,
            "system_prompt": row.system_prompt or (base.get("system_prompt") if base else None),
            "response_format": base.get("response_format", "text") if base else "text",
        }
        return name

    def run(self, extra: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        row = self.row
        dataset = self.entry("datasets", "dataset", row.dataset)
        task = self.entry("tasks", "task", row.task)
        model = self.entry("models", "model_name", row.model_name)
        self.framework(model)
        self.cell_problem("metrics")
        metrics = [self.entry("metrics", "metrics", m) for m in row.metrics]
        self.cell_problem("metrics_aggregators")
        if dataset is not None and task is not None:
            annotated = self.registry.entry("datasets", dataset).get("task")
            if annotated != task:
                self.problem("task", f"dataset {dataset!r} is annotated for task {annotated!r}")
        prompt = self.prompt(extra)
        self.cell_problem("filter_doc_class")
        self.cell_problem("filter_question_type")
        if self.problems or None in (dataset, task, model, prompt) or None in metrics:
            return None
        return {
            "name": f"row{row.line - 1}-{model}-{dataset}",
            "task": task,
            "model": model,
            "dataset": dataset,
            "prompt": prompt,
            "metrics": [m for m in metrics if m] or None,
            "aggregators": row.metrics_aggregators,
            "filters": {
                "doc_class": row.filter_doc_class or None,
                "question_type": row.filter_question_type or None,
            },
            "only_evaluate": row.only_evaluate_metrics,
        }


def resolve_user_config(
    path: Path, registry: RegistryView
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """An experiment with one inline run per row, plus the prompt entries the rows bring along.

    Returns plain data: the experiment ``{"name", "runs": [run dicts], "reports"}`` and the new
    prompt entries by name (a row with a CSV collection or a system prompt makes one, named
    ``user-<collection stem>-<hash>``). Raises :class:`UserConfigError` listing every problem
    of every row, then their count.
    """
    runs: list[dict[str, Any]] = []
    problems: list[str] = []
    extra_prompts: dict[str, dict[str, Any]] = {}
    for row in read_user_config(path):
        resolver = _Resolver(registry, row)
        run = resolver.run(extra_prompts)
        problems += resolver.problems
        if run is not None:
            runs.append(run)
    if problems:
        raise UserConfigError([*problems, f"{len(problems)} problem(s) in {path}"])
    experiment = {"name": slug(Path(path).stem), "runs": runs, "reports": list(V01_REPORTS)}
    return experiment, extra_prompts
