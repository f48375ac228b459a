"""``user_config.csv`` of VLMHyperBench v0.1: one run per row, read as users have it.

Columns: dataset; task; framework; model_name; system_prompt; prompt_collection; metrics;
only_evaluate_metrics; metrics_aggregators; filter_doc_class; filter_question_type.
List cells are Python literals (``['WER', 'CER']``). Unlike v0.1, ``system_prompt`` and
``only_evaluate_metrics`` are honoured, and each filter applies on its own.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path
from typing import Any

from ..registry import Registry
from ..registry.models import ExperimentEntry, InlineRun, SampleFilters
from ..registry.prompt_collection import PromptCollectionError, read_prompt_collection
from ..registry.vlm_base import slug
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
_TRUE = {"true", "1", "yes", "да"}


class UserConfigError(ValueError):
    pass


def _list(cell: str, where: str) -> list[str]:
    cell = cell.strip()
    if not cell or cell.lower() in {"none", "nan", "[]"}:
        return []
    if cell.startswith("["):
        try:
            value = ast.literal_eval(cell)
        except (ValueError, SyntaxError) as exc:
            raise UserConfigError(
                f"{where}: expected a Python list literal like ['a', 'b'], got {cell!r}"
            ) from exc
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserConfigError(f"{where}: expected a list of strings, got {cell!r}")
        return value
    return [cell]


def _resolve(registry: Registry, kind: str, value: str, where: str) -> str:
    candidates = [value, value.lower(), slug(value), slug(value).lower()]
    for name in candidates:
        if name in registry.names(kind):
            return name
    raise UserConfigError(
        f"{where}: no {kind} entry named {value!r} (known: {', '.join(registry.names(kind))})"
    )


def experiment_from_user_config(
    path: Path, registry: Registry
) -> tuple[ExperimentEntry, dict[str, Any]]:
    """An experiment with one inline run per row, plus prompt entries the rows bring along."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserConfigError(f"{path}: cannot read: {exc}") from exc
    reader = csv.DictReader(text.splitlines(), delimiter=";")
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("dataset", "task", "model_name") if c not in header]
    if missing:
        raise UserConfigError(
            f"{path}:1: missing columns {', '.join(missing)}; expected {';'.join(COLUMNS)}"
        )
    reader.fieldnames = header
    runs: list[InlineRun] = []
    extra_prompts: dict[str, Any] = {}
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        where = f"{path}:{line}"
        dataset = _resolve(registry, "datasets", row["dataset"], f"{where}: dataset")
        task = _resolve(registry, "tasks", row["task"], f"{where}: task")
        model = _resolve(registry, "models", row["model_name"], f"{where}: model_name")
        metrics = [
            _resolve(registry, "metrics", m, f"{where}: metrics")
            for m in _list(row.get("metrics", ""), f"{where}: metrics")
        ]
        aggregators = _list(
            row.get("metrics_aggregators", ""), f"{where}: metrics_aggregators"
        ) or ["general"]
        bad = [
            a
            for a in aggregators
            if a not in ("general", "by_doc_type", "by_doc_question", "by_id")
        ]
        if bad:
            raise UserConfigError(
                f"{where}: metrics_aggregators: expected general, by_doc_type, by_doc_question or by_id, got {bad}"
            )
        collection_cell = row.get("prompt_collection", "")
        prompt = _prompt_for(
            registry, collection_cell, row.get("system_prompt", ""), path, where, extra_prompts
        )
        runs.append(
            InlineRun(
                name=f"row{line - 1}-{model}-{dataset}",
                task=task,
                model=model,
                dataset=dataset,
                prompt=prompt,
                metrics=metrics or None,
                aggregators=aggregators,
                filters=SampleFilters(
                    doc_class=_list(row.get("filter_doc_class", ""), f"{where}: filter_doc_class")
                    or None,
                    question_type=_list(
                        row.get("filter_question_type", ""), f"{where}: filter_question_type"
                    )
                    or None,
                ),
                only_evaluate=row.get("only_evaluate_metrics", "").lower() in _TRUE,
            )
        )
    if not runs:
        raise UserConfigError(f"{path}: no rows; expected one run per row")
    return ExperimentEntry(name=slug(path.stem), runs=runs), extra_prompts


def _prompt_for(
    registry: Registry, cell: str, system_prompt: str, path: Path, where: str, extra: dict[str, Any]
) -> str:
    from ..registry.models import PromptEntry

    base_name = None
    collection: dict[str, str] | None = None
    if cell:
        if cell in registry.names("prompts"):
            base_name = cell
        else:
            csv_path = (path.parent / cell) if not Path(cell).is_absolute() else Path(cell)
            try:
                collection = read_prompt_collection(csv_path)
            except PromptCollectionError as exc:
                raise UserConfigError(f"{where}: prompt_collection: {exc}") from exc
    if base_name and not system_prompt:
        return base_name
    base = registry.get("prompts", base_name) if base_name else None
    entry = PromptEntry(
        name=slug(
            f"user-{Path(cell).stem or 'question'}-{content_hash(cell, system_prompt, length=8)}"
        ),
        template=base.template if base else "{question}",
        collection={**(registry.prompt_collection(base) if base else {}), **(collection or {})}
        or None,
        system_prompt=system_prompt or (base.system_prompt if base else None),
        response_format=base.response_format if base else "text",
    )
    extra[entry.name] = entry
    return entry.name
