"""A folder of document images with one JSON per image: the layout receipt and form datasets
ship (SROIE: company, date, address, total), read without a converter.

``<folder>/**/<name>.<jpg|png|...|pdf>`` beside ``<folder>/**/<name>.json`` (same name, any
sub-folder, e.g. ``img/`` and ``key/``), each JSON a flat object ``field -> value`` (text,
number, boolean or null). One sample per pair: ``id`` is the name, ``fields`` the JSON, and the
prompt variable ``field_names`` lists every field the dataset has (the ``kie`` prompt asks for
them). A JSON without its image, an image without its JSON, a nested value or an empty object
is an error naming the file and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vlmhb_dataset_factory.dataset import Dataset
from vlmhb_dataset_factory.errors import DatasetError, ErrorPolicy, OnError
from vlmhb_dataset_factory.images import ImageChecker
from vlmhb_dataset_factory.options import SampleBuilder, finish
from vlmhb_dataset_factory.vqa_csv import read_text

DOCUMENT_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".pdf"}
_SCALARS = (str, int, float, bool)


def _documents(root: Path) -> dict[str, Path]:
    """name -> its image (or PDF); the same name twice is an error naming both files."""
    found: dict[str, Path] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in DOCUMENT_SUFFIXES):
        if path.stem in found:
            raise DatasetError(
                path,
                f"two documents named {path.stem!r} (also {found[path.stem]}); names pair "
                "images with their JSON, so each must be unique",
            )
        found[path.stem] = path
    return found


def _fields(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_text(file))
    except json.JSONDecodeError as exc:
        raise DatasetError(file, f"expected JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DatasetError(
            file, f"expected a flat JSON object of field -> value, got {type(data).__name__}"
        )
    if not data:
        raise DatasetError(file, "expected at least one field, got an empty object")
    for name, value in data.items():
        if value is not None and not isinstance(value, _SCALARS):
            raise DatasetError(
                file,
                f"expected a text, number, boolean or null value, got {type(value).__name__} "
                "(one JSON per image holds a flat object field -> value)",
                column=name,
            )
    return data


def read_image_json(
    path: str | Path,
    *,
    doc_class: str | Iterable[str] | None = None,
    question_type: str | Iterable[str] | None = None,
    limit: int | None = None,
    shuffle_seed: int | None = None,
    on_error: OnError = "raise",
    validate_images: bool = True,
    require_reference: bool = True,
    default_doc_class: str | None = None,
) -> Dataset:
    """Samples of a folder of images (or PDFs) each with a same-named flat JSON, by name."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise DatasetError(root, "folder not found (expected images with one JSON each)")
    annotations = sorted(root.rglob("*.json"), key=lambda p: (p.stem, str(p)))
    if not annotations:
        raise DatasetError(root, "no .json files: expected one JSON per image, same name")
    policy = ErrorPolicy(on_error)
    documents = _documents(root)
    parsed: list[tuple[Path, dict[str, Any], Path]] = []
    seen: dict[str, Path] = {}
    for file in annotations:
        try:
            if file.stem in seen:
                raise DatasetError(
                    file, f"a second JSON named {file.stem!r} (also {seen[file.stem]})"
                )
            seen[file.stem] = file
            fields = _fields(file)
            image = documents.get(file.stem)
            if image is None:
                raise DatasetError(
                    file,
                    f"no image named {file.stem!r} under {root} (expected {file.stem}.jpg, "
                    ".png, ... or .pdf)",
                )
        except DatasetError as error:
            policy.handle(error)
            continue
        parsed.append((file, fields, image))
    for name, image in documents.items():
        if name not in seen:
            policy.handle(DatasetError(image, f"no annotation {name}.json for this image"))
    names = list(dict.fromkeys(k for _, fields, _ in parsed for k in fields))
    samples = []
    for file, fields, image in parsed:
        builder = SampleBuilder(file, policy, ImageChecker(validate_images), require_reference)
        sample = builder.build(
            None,
            "image",
            id=file.stem,
            images=[str(image)],
            fields=fields,
            prompt_vars={"field_names": ", ".join(names)},
            doc_class=default_doc_class,
            metadata={"annotation": file.relative_to(root).as_posix()},
        )
        if sample is not None:
            samples.append(sample)
    return finish(
        Dataset(samples, source=root, root=root, skipped=policy.skipped),
        doc_class=doc_class,
        question_type=question_type,
        shuffle_seed=shuffle_seed,
        limit=limit,
    )
