"""Sync stage: make the dataset present locally and list its samples.

Runs in the dataset package's environment:
``python -m vlmhb_stages.prepare_dataset CONFIG.json``.
1. generate it (an embedded generator) or sync it (s3:// via vlmhb-data-layer) into a cache;
2. iterate it with the dataset package's iterator (entry point ``vlmhyperbench.datasets``);
3. write samples.jsonl and manifest.json (content fingerprint of samples and image bytes).
With ``limit`` (every run of the dataset asks at most that many samples) only the first
``limit`` samples are prepared, and the iterator is told so it reads no more than that.
Each output is written to a temporary name and renamed, so a killed stage leaves no half file.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from vlmhb_stages.configs import SyncConfig, emit


def call(import_path: str, *args: Any, **kwargs: Any) -> Any:
    module, _, attr = import_path.partition(":")
    return getattr(importlib.import_module(module), attr)(*args, **kwargs)


COMPLETE_MARKER = ".complete"
"""Written last into a generated folder: without it the folder is made again. (Not a
``.vlmhb-`` name: the data layer keeps those to itself and would not carry it between nodes.)"""
LEGACY_COMPLETE_MARKER = ".vlmhb-complete"
"""What 0.2 wrote: folders it finished are still finished."""


def generate(config: SyncConfig) -> Path:
    """Make the generated dataset in its own folder, the marker last.

    In place (not in a sibling renamed over it): the stage may be given write access to this
    one folder only (a container's mount, a Ray node that fetches just this folder)."""
    assert config.generated_dir is not None and config.generator is not None
    target = Path(config.generated_dir)
    if (target / COMPLETE_MARKER).exists() or (target / LEGACY_COMPLETE_MARKER).exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for child in target.iterdir():  # what a killed run left half made
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    call(config.generator.callable, target, **config.generator.params)
    (target / COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
    return target


def sync(config: SyncConfig) -> Path:
    source = config.source or ""
    if not source.startswith("s3://"):
        return Path(source.removeprefix("file://"))
    from vlmhb_data_layer import SmartSyncManager  # only needed for remote datasets

    cache = Path(config.cache_dir or "")
    manager = SmartSyncManager(endpoint_url=config.endpoint_url)
    result = manager.sync(source, cache)
    emit("log", line=f"synced {source}: {result}")
    return cache


def sample_dict(sample: Any) -> dict[str, Any]:
    if hasattr(sample, "model_dump"):
        return sample.model_dump(mode="json")
    return dict(sample)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def render_pdfs(
    samples: list[dict[str, Any]], out: Path, settings: dict[str, int] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """PDF items (``doc.pdf``, ``doc.pdf#page=N``) replaced by their pages rendered into
    ``out/pages`` (by the dataset factory, with pypdfium2), and what was rendered."""
    if not any(
        str(image).lower().endswith(".pdf") or ".pdf#page=" in str(image).lower()
        for sample in samples
        for image in sample.get("images") or []
    ):
        return samples, None
    try:
        from vlmhb_dataset_factory import PdfRendering, render_samples
    except ImportError:
        raise SystemExit(
            "the dataset has PDF items; rendering them needs vlmhb-dataset-factory in the "
            "dataset's environment"
        ) from None
    rendering = PdfRendering(**(settings or {}))
    try:
        rendered, pages = render_samples(samples, out / "pages", rendering)
    except ValueError as exc:
        raise SystemExit(f"{type(exc).__name__}: {exc}") from None
    return rendered, {"rendering": rendering.as_dict(), "pages": pages}


def takes_limit(iterator: Any) -> bool:
    """Whether a dataset iterator accepts ``limit`` (every vlmhb-dataset-factory one does)."""
    try:
        parameters = inspect.signature(iterator).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "limit" for p in parameters)


def main(config_path: str) -> int:
    config = SyncConfig.model_validate_json(Path(config_path).read_text(encoding="utf-8"))
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hub = (config.source or "").startswith("hf://")
    # An hf:// id is no path: the iterator loads it with `datasets` (Hub or HF cache).
    root = generate(config) if config.generator else (Path() if hub else sync(config))
    if config.path_in_source:
        root = root / config.path_in_source
    iterator = config.iterator
    found = [ep for ep in entry_points(group="vlmhyperbench.datasets") if ep.name == iterator]
    if not found:
        installed = sorted(ep.name for ep in entry_points(group="vlmhyperbench.datasets"))
        raise SystemExit(
            f"dataset iterator {iterator!r} not found in entry-point group vlmhyperbench.datasets "
            f"(installed: {', '.join(installed) or 'none'})"
        )
    options = dict(config.options)
    if config.iterator == "hf" and config.cache_dir:
        options.setdefault("cache_dir", config.cache_dir)  # where its images are written
    load = found[0].load()
    if config.limit is not None and not config.split and takes_limit(load):
        # The iterator selects (filter, shuffle, limit) before it reads images: an HF dataset
        # unpacks the chosen rows' pages only. A split filter runs after it, so not then.
        given = options.get("limit")
        options["limit"] = config.limit if given is None else min(int(given), config.limit)
    try:
        dataset = load(config.source if hub else root, **options)
        samples = [sample_dict(s) for s in dataset]
    except (ValueError, ImportError, OSError) as exc:
        # Bad or missing data (DatasetError is a ValueError naming the file, column, sample):
        # one clear line for the user, not a traceback.
        raise SystemExit(f"{type(exc).__name__}: {exc}") from None
    samples, pdf = render_pdfs(samples, out, config.pdf)
    if config.max_images is not None:
        too_many = [s for s in samples if len(s.get("images") or []) > config.max_images]
        if too_many:
            first = too_many[0]
            raise SystemExit(
                f"sample {first['id']!r} has {len(first.get('images') or [])} images, but the "
                f"dataset's task takes at most {config.max_images} "
                f"({len(too_many)} sample(s) like this); raise the task's input.images"
                + (" or lower the dataset's pdf.max_pages" if pdf else "")
            )
    if config.split:
        samples = [
            s
            for s in samples
            if (s.get("metadata") or {}).get("split", config.split) == config.split
        ]
    if config.limit is not None:
        samples = samples[: config.limit]
    digest = hashlib.sha256()
    images: dict[str, str] = {}
    for sample in samples:
        for image in sample.get("images") or []:
            if image not in images:
                images[image] = file_digest(Path(image))
    # The fingerprint names the data, not where it lies: paths count relative to the folder
    # that holds the dataset, so two work dirs (or machines) give the same fingerprint.
    base = root if root.is_dir() else root.parent
    if config.iterator == "hf":
        base = Path(dataset.root)  # its image cache: the images lie there, not in the source
    for image in sorted(images):
        relative: Any = image
        if Path(image).is_relative_to(base):
            relative = Path(image).relative_to(base)
        elif Path(image).is_relative_to(out):  # a rendered PDF page
            relative = Path("<out>") / Path(image).relative_to(out)
        digest.update(f"{relative}\0{images[image]}\n".encode())
    lines = [json.dumps(s, ensure_ascii=False, sort_keys=True) for s in samples]
    for line in lines:
        line = line.replace(str(out), "<out>").replace(str(base), "<root>")
        digest.update(line.encode("utf-8") + b"\n")
    tmp = out / "samples.jsonl.tmp"
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(out / "samples.jsonl")
    skipped = [str(s) for s in getattr(dataset, "skipped", [])]
    manifest = {
        "fingerprint": "sha256:" + digest.hexdigest(),
        "samples": len(samples),
        "images": len(images),
        "root": config.source if hub else str(root),
        "skipped": skipped,
    }
    if pdf is not None:
        manifest["pdf"] = pdf
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out / "manifest.json")
    emit("stage_progress", done=len(samples), total=len(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
