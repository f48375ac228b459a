"""A VLMHyperBench v0.1 tree -> registry entries, named so that v0.1 cells find them.

v0.1 kept its inputs under ``data_dirs/``: ``Datasets/<TASK>/<name>/annotation.csv`` (+ images),
``PromptCollections/<TASK>/<folders>/<file>.csv`` and ``vlm_base.csv`` beside the package.
``user_config.csv`` refers to them by dataset name and by prompt-collection path relative to
``PromptCollections/<task>/``; the names given here (``prompt_entry_name``) are the ones the
user_config reader looks up, so the cells work unchanged after an import.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

from ..registry.prompt_collection import PromptCollectionError, read_prompt_collection
from .entries import PlannedEntry

V01_TASKS = {"vqa": "vqa"}
"""v0.1 task folder (lower case) -> task entry. Others are reported, not guessed."""
FRAMEWORKS = {"hugging face": "hugging-face", "huggingface": "hugging-face", "vllm": "vllm"}
FRAMEWORKS.update({"ocr": "ocr", "deepseek": "deepseek"})
"""v0.1 ``framework`` cell (lower case) -> framework entry."""
GPU_FRAMEWORKS = {"hugging-face", "vllm", "deepseek"}


class V01Error(ValueError):
    """A v0.1 file or folder is not what v0.1 wrote; the message names it."""


def slug(text: str) -> str:
    """A registry entry name from free text such as 'Qwen/Qwen2-VL-2B-Instruct'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-._") or "entry"


def prompt_entry_name(task: str, relative: str) -> str:
    """The entry a user_config cell ``demo_mini/X.csv`` of ``task`` refers to."""
    stem = relative.replace("\\", "/").removesuffix(".csv")
    return slug(f"{task.lower()}-{stem.replace('/', '-')}")


def find_data_dirs(path: Path) -> Path:
    """``data_dirs/`` from a v0.1 checkout, its ``vlmhyperbench/`` folder, or itself."""
    for candidate in (path, path / "data_dirs", path / "vlmhyperbench" / "data_dirs"):
        if (candidate / "Datasets").is_dir() or (candidate / "PromptCollections").is_dir():
            return candidate
    raise V01Error(
        f"{path}: no v0.1 data here; expected a folder holding data_dirs/Datasets or "
        "data_dirs/PromptCollections (a v0.1 checkout, its vlmhyperbench/ or its data_dirs/)"
    )


def find_vlm_base(path: Path, data_dirs: Path) -> Path | None:
    for candidate in (path, path / "vlmhyperbench", data_dirs.parent, data_dirs):
        if (candidate / "vlm_base.csv").is_file():
            return candidate / "vlm_base.csv"
    return None


def dataset_entry(folder: Path, task: str, name: str | None = None) -> PlannedEntry:
    """A dataset entry for a v0.1 dataset folder (VQA annotation.csv, or images/ + jsons/)."""
    if str(folder).startswith("s3://"):
        return PlannedEntry(
            "datasets",
            slug(name or folder.name),
            {
                "package": "vlmhb-dataset-factory",
                "iterator": "vqa-csv",
                "source": str(folder),
                "task": task,
            },
        )
    folder = folder.resolve()
    if (folder / "annotation.csv").is_file():
        iterator = "vqa-csv"
    elif (folder / "jsons").is_dir():
        iterator = "fields-json"
    else:
        raise V01Error(f"{folder}: expected annotation.csv (VQA) or jsons/ beside images/ (fields)")
    return PlannedEntry(
        "datasets",
        slug(name or folder.name),
        {
            "description": f"Imported from {folder}",
            "package": "vlmhb-dataset-factory",
            "iterator": iterator,
            "source": str(folder),
            "task": task,
            "metadata": {"imported_from": str(folder)},
        },
    )


def _cer_column(path: Path) -> dict[str, float]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    values = {}
    for row in reader:
        key, cer = (
            (row.get("doc_class_question_type") or "").strip(),
            (row.get("cer") or "").strip(),
        )
        try:
            values[key] = float(cer.replace(",", "."))
        except ValueError:
            continue
    return values


def prompt_entries(data_dirs: Path, notes: list[str]) -> list[PlannedEntry]:
    root = data_dirs / "PromptCollections"
    entries = []
    for task_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for path in sorted(task_dir.rglob("*.csv")):
            relative = path.relative_to(task_dir).as_posix()
            try:
                collection = read_prompt_collection(path)
            except PromptCollectionError as exc:
                notes.append(f"skipped {exc}")
                continue
            data: dict[str, Any] = {
                "description": f"v0.1 prompt collection {task_dir.name}/{relative}",
                "template": "{question}",
                "collection": collection,
                "metadata": {"v01_path": f"{task_dir.name}/{relative}", "cer": _cer_column(path)},
            }
            entries.append(
                PlannedEntry("prompts", prompt_entry_name(task_dir.name, relative), data)
            )
    for path in sorted((data_dirs / "SystemPrompts").rglob("*.txt")):
        text = path.read_text(encoding="utf-8-sig").strip()
        if text:
            data = {"template": "{question}", "system_prompt": text}
            entries.append(PlannedEntry("prompts", slug(f"system-{path.stem}"), data))
    return entries


def dataset_entries(data_dirs: Path, notes: list[str]) -> list[PlannedEntry]:
    root = data_dirs / "Datasets"
    entries = []
    for task_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        task = V01_TASKS.get(task_dir.name.lower())
        for folder in sorted(p for p in task_dir.iterdir() if p.is_dir()):
            if task is None:
                notes.append(
                    f"skipped {folder}: no task entry for v0.1 task {task_dir.name!r} "
                    f"(known: {', '.join(V01_TASKS)}); import it with `vlmhb import dataset`"
                )
                continue
            try:
                entries.append(dataset_entry(folder, task))
            except V01Error as exc:
                notes.append(f"skipped {exc}")
    return entries


def model_entries(vlm_base: Path) -> list[PlannedEntry]:
    """Models runnable where their weights are; the v0.1 packages kept as metadata only."""
    from ..registry.vlm_base import read_vlm_base

    entries = []
    seen: set[str] = set()
    problems = []
    for row in read_vlm_base(vlm_base):
        where = f"{vlm_base}:{row['_line']}"
        framework = FRAMEWORKS.get(row["framework"].strip().lower())
        if framework is None:
            problems.append(
                f"{where}: framework: expected one of Hugging Face, vLLM, OCR, DeepSeek, "
                f"got {row['framework']!r}"
            )
            continue
        name = slug(row["model_name"])
        if name in seen:
            problems.append(f"{where}: model_name: {row['model_name']!r} appears twice")
            continue
        seen.add(name)
        model: dict[str, Any] = {"model": model_location(row["model_name"])}
        if framework == "hugging-face":
            model["engine"] = "transformers"
        data: dict[str, Any] = {
            "description": f"Imported from {vlm_base.name} line {row['_line']}",
            "framework": framework,
            "model_family": row.get("model_family") or None,
            "model": model,
            "metadata": {
                "v01_package": row.get("python_package"),
                "v01_git_package": row.get("git_python_package") or None,
                "v01_class": f"{row['module']}:{row['class_name']}"
                if row.get("module") and row.get("class_name")
                else None,
                "hub_id": row["model_name"],
            },
        }
        if framework in GPU_FRAMEWORKS:
            data["resources"] = {"gpus": 1}
        if row.get("docker_image"):
            data["docker_image"] = row["docker_image"]
        entries.append(PlannedEntry("models", name, {k: v for k, v in data.items() if v}))
    if problems:
        raise V01Error("\n".join(problems))
    return entries


def model_location(hub_id: str) -> str:
    """A Hub id, or the local folder ``$VLMHB_MODELS_DIR/<hub id>`` when it exists."""
    models_dir = os.environ.get("VLMHB_MODELS_DIR")
    if models_dir and (Path(models_dir) / hub_id).is_dir():
        return str(Path(models_dir) / hub_id)
    return hub_id


def plan_v01_import(path: Path) -> tuple[list[PlannedEntry], list[str]]:
    """Every entry a v0.1 tree gives, and notes on what was skipped and why."""
    data_dirs = find_data_dirs(path)
    notes: list[str] = []
    entries = dataset_entries(data_dirs, notes) + prompt_entries(data_dirs, notes)
    vlm_base = find_vlm_base(path, data_dirs)
    if vlm_base is not None:
        entries += model_entries(vlm_base)
    else:
        notes.append("no vlm_base.csv found: no models imported")
    return entries, notes
