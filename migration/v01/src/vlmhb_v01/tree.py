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

from .entries import PlannedEntry
from .prompt_collection import PromptCollectionError, read_prompt_collection
from .vlm_base import read_vlm_base

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


HF_FIELD_ROLES = ("id", "image", "question", "answers", "label", "doc_class", "question_type")
"""The `hf` iterator's ``fields`` roles that ``--fields role=column`` may name (besides
``prompt_vars.<name>``); ``image`` may be repeated for several image columns."""
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def parse_hf_fields(spec: str | None, metadata: str | None = None) -> dict[str, Any]:
    """``id=questionId,image=image,...`` (+ ``col1,col2`` metadata) -> the `hf` iterator's
    ``fields`` mapping; a malformed spec is a V01Error naming the item and what was expected."""
    example = "e.g. --fields id=questionId,image=image,question=question,answers=answers"
    if spec is None or not spec.strip():
        raise V01Error(f"--fields: expected role=column pairs separated by commas, {example}")
    fields: dict[str, Any] = {}
    images: list[str] = []
    prompt_vars: dict[str, str] = {}
    for item in (part.strip() for part in spec.split(",")):
        role, sep, column = (x.strip() for x in item.partition("="))
        if not item or not sep or not role or not column:
            raise V01Error(f"--fields: {item!r} is not role=column; {example}")
        if role.startswith("prompt_vars."):
            variable = role.removeprefix("prompt_vars.")
            if not variable.isidentifier():
                raise V01Error(f"--fields: {role!r}: expected prompt_vars.<variable name>")
            if variable in prompt_vars:
                raise V01Error(f"--fields: {role!r} given twice")
            prompt_vars[variable] = column
            continue
        if role not in HF_FIELD_ROLES:
            raise V01Error(
                f"--fields: unknown role {role!r}; expected one of {', '.join(HF_FIELD_ROLES)} "
                "or prompt_vars.<variable> (metadata columns go in --metadata)"
            )
        if role == "image":
            images.append(column)
            fields["image"] = images[0] if len(images) == 1 else list(images)
        elif role in fields:
            raise V01Error(f"--fields: {role!r} given twice ({fields[role]!r}, {column!r})")
        else:
            fields[role] = column
    if "answers" not in fields and "label" not in fields:
        raise V01Error(
            "--fields: no answers=<column> (or label=<column>); the samples need a reference "
            f"to be scored, {example}"
        )
    if prompt_vars:
        fields["prompt_vars"] = prompt_vars
    columns = [c.strip() for c in (metadata or "").split(",")]
    if metadata is not None and not all(columns):
        raise V01Error(f"--metadata: expected column names separated by commas, got {metadata!r}")
    if metadata is not None:
        fields["metadata"] = columns
    return fields


def hf_source(path: str, hub: bool = False) -> tuple[str, bool] | None:
    """``(source, is_hub)`` when ``path`` is a Hugging Face dataset: ``hf://owner/name``,
    ``owner/name`` with ``hub``, a ``save_to_disk`` folder, a ``.parquet`` file or a folder of
    parquet files. None for anything else (a v0.1 folder, s3://)."""
    if path.startswith("hf://") or hub:
        repo = path.removeprefix("hf://").strip("/").removeprefix("datasets/")
        if not _HF_ID.match(repo.partition("@")[0]):
            raise V01Error(f"{path}: expected a Hub dataset id hf://<owner>/<name>[@revision]")
        return f"hf://{repo}", True
    if "://" in path:
        return None
    local = Path(path).expanduser()
    if local.is_file():
        if local.suffix.lower() == ".jsonl":
            return None  # JSONL records: the dataset factory's `jsonl` iterator
        if local.suffix != ".parquet":
            raise V01Error(f"{local}: expected a .parquet file, a dataset folder or hf://...")
        return str(local.resolve()), False
    if local.is_dir():
        if (local / "dataset_dict.json").is_file() or (local / "state.json").is_file():
            return str(local.resolve()), False
        is_v01 = (local / "annotation.csv").is_file() or (local / "jsons").is_dir()
        if not is_v01 and any(local.rglob("*.parquet")):
            return str(local.resolve()), False
        return None
    hint = f" (a Hub id? write hf://{path} or add --hf)" if _HF_ID.match(path) else ""
    raise V01Error(f"{path}: no such file or folder{hint}")


def hf_dataset_entry(
    source: str,
    task: str,
    name: str,
    fields: dict[str, Any],
    *,
    config: str | None = None,
    split: str | None = None,
    revision: str | None = None,
) -> PlannedEntry:
    """An ``iterator: hf`` entry for a Hub id, a save_to_disk folder or parquet file(s)."""
    hub = source.startswith("hf://")
    if hub:
        repo, _, pinned = source.removeprefix("hf://").partition("@")
        if pinned and revision and pinned != revision:
            raise V01Error(f"{source}: two revisions, {pinned!r} in the id and --revision")
        source, revision = f"hf://{repo}", revision or pinned or None
    elif revision is not None:
        raise V01Error(f"--revision applies to Hub ids (hf://...) only, not to {source}")
    options: dict[str, Any] = {}
    for key, value in (("config", config), ("split", split), ("revision", revision)):
        if value is not None:
            options[key] = value
    options["fields"] = fields
    metadata: dict[str, Any] = {"imported_from": source}
    if hub:
        metadata["hub"] = f"https://huggingface.co/datasets/{source.removeprefix('hf://')}"
    return PlannedEntry(
        "datasets",
        slug(name),
        {
            "description": f"Imported from {source}",
            "package": "vlmhb-dataset-factory",
            "iterator": "hf",
            "source": source,
            "task": task,
            "options": options,
            "metadata": metadata,
        },
    )


def dataset_entry(
    folder: Path | str,
    task: str | None,
    name: str | None = None,
    *,
    fields: dict[str, Any] | None = None,
    config: str | None = None,
    split: str | None = None,
    revision: str | None = None,
    hub: bool = False,
    check: bool = True,
) -> PlannedEntry:
    """A dataset entry for a local folder or file (VQA annotation.csv, v0.1 images/ + jsons/,
    JSONL records, images with one JSON each), checked by reading it; or, with ``fields``,
    for a Hugging Face dataset (Hub id, save_to_disk folder, parquet). ``task`` None: the
    layout's usual task (``kie`` for fields, ``vqa`` otherwise). ``check``: read the local
    data now (``vlmhb import dataset``); a whole v0.1 tree is listed without reading it."""
    text = str(folder)
    hf = None if text.startswith("s3://") else hf_source(text, hub)
    if hf is not None:
        source, _ = hf
        if fields is None:
            raise V01Error(
                f"{text}: a Hugging Face dataset; say which column is what with --fields, "
                "e.g. --fields id=questionId,image=image,question=question,answers=answers"
            )
        default_name = source.removeprefix("hf://").partition("@")[0].rsplit("/", 1)[-1]
        return hf_dataset_entry(
            source,
            task or "vqa",
            name or Path(default_name).stem,
            fields,
            config=config,
            split=split,
            revision=revision,
        )
    if fields is not None or config is not None or split is not None or revision is not None:
        raise V01Error(
            f"{text}: --fields, --metadata, --config, --split and --revision apply to Hugging "
            "Face datasets (hf://..., a save_to_disk folder or parquet files)"
        )
    if text.startswith("s3://"):
        return PlannedEntry(
            "datasets",
            slug(name or text.rstrip("/").rsplit("/", 1)[-1]),
            {
                "package": "vlmhb-dataset-factory",
                "iterator": "vqa-csv",
                "source": text,
                "task": task or "vqa",
            },
        )
    folder = Path(folder).resolve()
    iterator = local_iterator(folder)
    counted = f" ({check_local_dataset(iterator, folder)} samples)" if check else ""
    return PlannedEntry(
        "datasets",
        slug(name or (folder.stem if folder.is_file() else folder.name)),
        {
            "description": f"Imported from {folder}{counted}",
            "package": "vlmhb-dataset-factory",
            "iterator": iterator,
            "source": str(folder),
            "task": task or DEFAULT_TASKS[iterator],
            "metadata": {"imported_from": str(folder)},
        },
    )


LAYOUTS = (
    "annotation.csv (VQA); images/ + jsons/ (v0.1 fields); a .jsonl records file (or a folder "
    "with records.jsonl); or images (or PDFs) each with a same-named flat JSON"
)
DEFAULT_TASKS = {
    "vqa-csv": "vqa",
    "fields-json": "kie",
    "jsonl": "kie",
    "image-json": "kie",
}
"""The task a layout is annotated for unless ``--task`` says otherwise."""


def local_iterator(path: Path) -> str:
    """The dataset factory's iterator that reads a local folder or file."""
    if path.is_file():
        if path.suffix.lower() == ".jsonl":
            return "jsonl"
        raise V01Error(f"{path}: expected a folder or a .jsonl records file ({LAYOUTS})")
    if (path / "annotation.csv").is_file():
        return "vqa-csv"
    if (path / "jsons").is_dir():
        return "fields-json"
    if (path / "records.jsonl").is_file():
        return "jsonl"
    if path.is_dir() and any(path.rglob("*.json")):
        return "image-json"
    raise V01Error(f"{path}: no dataset layout found; expected {LAYOUTS}")


def check_local_dataset(iterator: str, path: Path) -> int:
    """Read the whole dataset now, with the iterator the run will use, so a wrong layout fails
    at import naming the file and the field, not at run time; returns the sample count."""
    from vlmhb_dataset_factory import DatasetError, load_dataset

    try:
        dataset = load_dataset(iterator, path)
    except (DatasetError, OSError) as exc:
        raise V01Error(f"not imported: {exc}") from None
    count = len(list(dataset))
    if not count:
        raise V01Error(f"{path}: no samples found ({LAYOUTS})")
    return count


DEFAULT_PROMPTS = {"kie": "kie-fields", "vqa": "vqa-question"}
"""The prompt a benchmark of a task uses unless ``--prompt`` says otherwise."""


def benchmark_entries(
    dataset: PlannedEntry, models: list[str], prompt: str | None = None
) -> list[PlannedEntry]:
    """One run entry per model on ``dataset`` and an experiment of the same name listing
    them, so ``vlmhb run <name>`` benchmarks an imported dataset."""
    task = dataset.data["task"]
    prompt = prompt or DEFAULT_PROMPTS.get(task)
    if prompt is None:
        raise V01Error(f"--prompt: no default prompt for task {task!r}; name a prompt entry")
    if not models or not all(models):
        raise V01Error("--models: expected model entry names separated by commas")
    runs = [
        PlannedEntry(
            "runs",
            slug(f"{dataset.name}__{model}"),
            {"task": task, "model": model, "dataset": dataset.name, "prompt": prompt},
        )
        for model in models
    ]
    experiment = PlannedEntry(
        "experiments",
        dataset.name,
        {
            "description": f"{', '.join(models)} on {dataset.name} (vlmhb import dataset)",
            "runs": [r.name for r in runs],
            "reports": ["leaderboard", "html-report"],
        },
    )
    return [*runs, experiment]


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
                entries.append(dataset_entry(folder, task, check=False))
            except V01Error as exc:
                notes.append(f"skipped {exc}")
    return entries


def model_entries(vlm_base: Path) -> list[PlannedEntry]:
    """Models runnable where their weights are; the v0.1 packages kept as metadata only."""
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
            "model": model,
            "metadata": {
                "v01_package": row.get("python_package"),
                "v01_git_package": row.get("git_python_package") or None,
                "v01_class": f"{row['module']}:{row['class_name']}"
                if row.get("module") and row.get("class_name")
                else None,
                "hub_id": row["model_name"],
                "model_family": row.get("model_family") or None,
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
