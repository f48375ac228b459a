"""``vlmhb import ...``: bring in what VLMHyperBench v0.1 users (and others) already have.

The core's CLI finds :data:`import_app` through the entry-point group
``vlmhyperbench.commands`` and adds it as the ``import`` command group (extra ``cli``: typer
and rich). This module is only the command line over the rest of this package.

Every importer writes to an overlay folder (default: the user overlay that every command
reads), never into the shipped registries, and follows one rule: an existing entry is kept
unless ``--overwrite``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from .entries import PlannedEntry, user_overlay_dir, write_entries
from .prompt_collection import PromptCollectionError, read_prompt_collection
from .tree import (
    V01Error,
    benchmark_entries,
    dataset_entry,
    model_entries,
    parse_hf_fields,
    plan_v01_import,
)
from .vlm_base import VlmBaseError

EXIT_BAD_INPUT = 2
"""Bad input (a missing file, a bad cell): the exit status the core's commands use too."""

import_app = typer.Typer(
    rich_markup_mode=None,
    help="Import files that VLMHyperBench v0.1 users (and others) already have.",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:  # logs and CI: wide enough for a table, never squeezed to 80
    out = Console(highlight=False, soft_wrap=True, width=220)
err = Console(stderr=True, highlight=False, soft_wrap=True)

OverlayTarget = Annotated[
    Path | None,
    typer.Option(
        "--overlay",
        help="Folder to write entries to (default: $VLMHB_USER_OVERLAY or "
        "~/.config/vlmhb/registries, read by every command).",
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing entries.")]


def _write(entries: list[PlannedEntry], overlay: Path | None, overwrite: bool) -> None:
    result = write_entries(entries, overlay, overwrite)
    for path in result.written:
        out.print(f"wrote {path}")
    for path in result.skipped:
        out.print(f"kept  {path} (exists; --overwrite to replace)")
    target = overlay or user_overlay_dir()
    if overlay is not None:
        out.print(f"use them with: vlmhb run ... --overlay {target}")


def _fail(message: str) -> NoReturn:
    err.print(message, markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


@import_app.command("v01")
def import_v01(
    path: Annotated[
        Path, typer.Argument(help="A v0.1 checkout, its vlmhyperbench/ or data_dirs/.")
    ],
    overlay: OverlayTarget = None,
    overwrite: Overwrite = False,
) -> None:
    """Every dataset, prompt collection, system prompt and vlm_base.csv model of a v0.1 tree."""
    try:
        entries, notes = plan_v01_import(path)
    except (V01Error, ValueError) as exc:
        _fail(str(exc))
    for note in notes:
        err.print(note, markup=False)
    _write(entries, overlay, overwrite)


@import_app.command("dataset")
def import_dataset(
    path: Annotated[
        str,
        typer.Argument(
            help="A folder of images (or PDFs) each with a same-named flat JSON (receipts, "
            "forms), a .jsonl records file, a v0.1 dataset folder (annotation.csv, or images/ + "
            "jsons/) or s3://...; or a Hugging Face dataset: hf://owner/name (or owner/name "
            "with --hf), a save_to_disk folder, a .parquet file or a folder of parquet files. "
            "Local data is read now: a wrong layout fails here, naming the file and field."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Entry name (default: the folder's or file's name)."),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="Task entry it is annotated for (default: kie for fields, vqa otherwise).",
        ),
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            help="Hugging Face datasets: which column is what, as role=column pairs, e.g. "
            "id=questionId,image=image,question=question,answers=answers (roles: id, image, "
            "question, answers, label, doc_class, question_type, prompt_vars.<name>).",
        ),
    ] = None,
    metadata: Annotated[
        str | None,
        typer.Option("--metadata", help="Hugging Face datasets: columns kept as metadata, a,b."),
    ] = None,
    hub: Annotated[
        bool, typer.Option("--hf", help="PATH is a Hub dataset id owner/name (= hf://owner/name).")
    ] = False,
    config: Annotated[
        str | None, typer.Option("--config", help="Hugging Face dataset config (subset).")
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="Split to read.")] = None,
    revision: Annotated[
        str | None,
        typer.Option("--revision", help="Hub revision to pin (a commit sha; hf:// ids only)."),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Also write a run per model (a,b) and an experiment named like the dataset: "
            "then `vlmhb run <name>` benchmarks it.",
        ),
    ] = None,
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", help="Prompt of those runs (default: kie-fields for kie)."),
    ] = None,
    overlay: OverlayTarget = None,
    overwrite: Overwrite = False,
) -> None:
    """One dataset as a dataset entry: a v0.1 folder (local or s3://), or a Hugging Face
    dataset (Hub id, save_to_disk folder, parquet) read by the `hf` iterator."""
    try:
        mapping = None
        if fields is not None or metadata is not None:
            mapping = parse_hf_fields(fields, metadata)
        entry = dataset_entry(
            path,
            task,
            name,
            fields=mapping,
            config=config,
            split=split,
            revision=revision,
            hub=hub,
        )
        entries = [entry]
        if models is not None:
            entries += benchmark_entries(entry, [m.strip() for m in models.split(",")], prompt)
    except V01Error as exc:
        _fail(str(exc))
    _write(entries, overlay, overwrite)
    if models is not None:
        where = f" --overlay {overlay}" if overlay is not None else ""
        out.print(f"benchmark it with: vlmhb run {entry.name}{where}")


@import_app.command("vlm-base")
def import_vlm_base(
    file: Annotated[Path, typer.Argument(help="vlm_base.csv (';'-separated).")],
    overlay: OverlayTarget = None,
    overwrite: Overwrite = False,
) -> None:
    """A v0.1 vlm_base.csv as model entries (its model packages kept as metadata)."""
    try:
        entries = model_entries(file)
    except (VlmBaseError, V01Error) as exc:
        _fail(str(exc))
    _write(entries, overlay, overwrite)


@import_app.command("prompts")
def import_prompts(
    file: Annotated[
        Path, typer.Argument(help="Prompt collection CSV (prompt;doc_class_question_type;cer).")
    ],
    name: Annotated[str, typer.Argument(help="Name of the prompt entry to write.")],
    template: Annotated[
        str, typer.Option(help="Template for samples without a collection key.")
    ] = "{question}",
    overlay: OverlayTarget = None,
    overwrite: Overwrite = False,
) -> None:
    """A v0.1 prompt collection CSV as a prompt entry."""
    try:
        collection = read_prompt_collection(file)
    except PromptCollectionError as exc:
        _fail(str(exc))
    entry = {"template": template, "collection": collection, "metadata": {"source": str(file)}}
    _write([PlannedEntry("prompts", name, entry)], overlay, overwrite)
