"""Hugging Face datasets (the public benchmarks as people run them), read with ``datasets``.

``source`` is one of:

* a Hub id, ``hf://lmms-lab/DocVQA`` (``hf://datasets/lmms-lab/DocVQA`` and a trailing
  ``@revision`` are accepted too), with ``config``, ``split`` and ``revision``;
* a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``;
* local parquet: one ``.parquet`` file, or a folder laid out as on the Hub (a snapshot made by
  ``huggingface-cli download``), read by the same ``datasets.load_dataset`` call as the Hub.

A ``fields`` mapping names the columns (see :class:`HfFields`). Images (an ``Image`` feature,
raw bytes, or a path) are written once into ``cache_dir/images/<sha256>.<ext>``: the file
name is the hash of the bytes, so a re-run, another split or another dataset that holds the
same picture reuses the file, and the samples look like those of every other iterator
(absolute image paths). Only the samples kept after ``doc_class``/``question_type``, the
shuffle and ``limit`` have their images written: ``--limit 5`` on DocVQA does not unpack
5,000 pages.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vlmhb_dataset_factory.dataset import Dataset
from vlmhb_dataset_factory.errors import DatasetError, ErrorPolicy, OnError
from vlmhb_dataset_factory.options import finish
from vlmhb_dataset_factory.sample import Sample

HF_PREFIX = "hf://"
_BATCH = 1000
_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}


class HfFields(BaseModel):
    """Which column is what. Only ``image`` is always needed; a missing column is an error
    that names it and lists the columns the dataset has."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None, description="Column with a unique sample id; none: the row number."
    )
    image: str | list[str] = Field(
        default="image",
        description="Image column(s): an Image feature, bytes, a path, or a list of those.",
    )
    question: str | None = Field(
        default="question", description="Column sent as the prompt variable {question}."
    )
    answers: str | None = Field(
        default=None, description="Column with the accepted answer (text) or answers (a list)."
    )
    label: str | None = Field(default=None, description="Column with a class label.")
    doc_class: str | None = Field(default=None, description="Column for the doc_class filter.")
    question_type: str | None = Field(
        default=None, description="Column for the question_type filter."
    )
    prompt_vars: dict[str, str] = Field(
        default_factory=dict, description="More prompt variables: variable name -> column."
    )
    metadata: list[str] = Field(
        default_factory=list, description="Columns kept in each sample's metadata."
    )

    @field_validator("image")
    @classmethod
    def _some_image(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("expected at least one image column")
        return value

    @property
    def image_columns(self) -> list[str]:
        return [self.image] if isinstance(self.image, str) else list(self.image)

    def text_columns(self) -> list[tuple[str, str]]:
        """(role, column) of every non-image column the mapping names."""
        roles = [
            ("id", self.id),
            ("question", self.question),
            ("answers", self.answers),
            ("label", self.label),
            ("doc_class", self.doc_class),
            ("question_type", self.question_type),
        ]
        roles += [(f"prompt_vars.{k}", v) for k, v in self.prompt_vars.items()]
        roles += [("metadata", c) for c in self.metadata]
        return [(role, column) for role, column in roles if column is not None]


def default_cache_dir() -> Path:
    """``$VLMHB_HF_IMAGE_CACHE``, else ``~/.cache/vlmhb/hf-images`` (XDG respected)."""
    configured = os.environ.get("VLMHB_HF_IMAGE_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "vlmhb" / "hf-images"


def parse_hub_source(source: str) -> tuple[str, str | None] | None:
    """``(repo_id, revision)`` of an ``hf://`` source, None for a local path.

    ``hf:/x/y`` is accepted as well: a ``pathlib.Path`` made of ``hf://x/y`` collapses the
    double slash, and a caller may have passed one.
    """
    if source.startswith(HF_PREFIX):
        rest = source[len(HF_PREFIX) :]
    elif source.startswith("hf:/"):
        rest = source[len("hf:/") :]
    else:
        return None
    rest = rest.strip("/").removeprefix("datasets/")
    repo, _, revision = rest.partition("@")
    if repo.count("/") > 1 or not repo or repo.startswith("/"):
        raise DatasetError(
            source, "expected hf://<owner>/<name> (or hf://<name>), e.g. hf://lmms-lab/DocVQA"
        )
    return repo, revision or None


def _is_offline() -> bool:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return True
    return False


def _hub_call(repo: str, config: str | None, split: str | None, revision: str | None) -> str:
    args = [repr(repo)]
    if config:
        args.append(repr(config))
    if split:
        args.append(f"split={split!r}")
    if revision:
        args.append(f"revision={revision!r}")
    return f"datasets.load_dataset({', '.join(args)})"


def _datasets_module():
    try:
        import datasets
    except ImportError:  # the base package stays light; the iterator names what it needs
        raise ImportError(
            "the 'hf' dataset iterator needs the Hugging Face 'datasets' library: "
            "pip install 'vlmhb-dataset-factory[hf]'"
        ) from None
    return datasets


def _pick_split(loaded: Any, split: str | None, where: str) -> Any:
    datasets = _datasets_module()
    if isinstance(loaded, datasets.Dataset):
        return loaded
    names = list(loaded.keys())
    if split is None:
        if len(names) == 1:
            return loaded[names[0]]
        raise DatasetError(where, f"several splits ({', '.join(names)}); choose one with split=")
    if split not in loaded:
        raise DatasetError(where, f"no split {split!r}; the splits are {', '.join(names)}")
    return loaded[split]


def _load_hub(
    repo: str,
    config: str | None,
    split: str | None,
    revision: str | None,
    hf_cache_dir: str | Path | None,
) -> Any:
    datasets = _datasets_module()
    where = f"{HF_PREFIX}{repo}"
    call = _hub_call(repo, config, split, revision)
    try:
        loaded = datasets.load_dataset(
            repo,
            config,
            split=split,
            revision=revision,
            cache_dir=None if hf_cache_dir is None else str(hf_cache_dir),
        )
    except ConnectionError as exc:
        cache = hf_cache_dir or os.environ.get("HF_DATASETS_CACHE") or os.environ.get("HF_HOME")
        cache_text = f" ({cache})" if cache else " (HF_HOME, default ~/.cache/huggingface)"
        if _is_offline():
            raise DatasetError(
                where,
                f"dataset {repo!r} (config {config!r}, split {split!r}, revision {revision!r}) "
                f"is not in the local Hugging Face cache{cache_text} and HF_HUB_OFFLINE=1 "
                f"forbids downloading it. Pre-download it where the Hub is reachable, with the "
                f'same HF_HOME: python -c "import datasets; {call}" - or unset HF_HUB_OFFLINE '
                f"[{exc}]",
            ) from None
        raise DatasetError(
            where,
            f"could not reach the Hugging Face Hub for {repo!r}: {exc}. Without network, "
            f'pre-download it (python -c "import datasets; {call}") and run with '
            "HF_HUB_OFFLINE=1",
        ) from None
    except (FileNotFoundError, ValueError) as exc:
        # DatasetNotFoundError is a FileNotFoundError; unknown config or split a ValueError.
        raise DatasetError(where, f"{call} failed: {exc}") from None
    return _pick_split(loaded, split, where)


def _load_local(
    path: Path, config: str | None, split: str | None, hf_cache_dir: str | Path | None
) -> tuple[Any, Path]:
    """The table and the file or folder whose bytes identify it (for the manifest)."""
    datasets = _datasets_module()
    cache = None if hf_cache_dir is None else str(hf_cache_dir)
    if path.is_dir() and (
        (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
    ):
        if config is not None:
            raise DatasetError(
                path, f"config {config!r} does not apply to a save_to_disk folder; remove it"
            )
        return _pick_split(datasets.load_from_disk(str(path)), split, str(path)), path
    if path.is_file() and path.suffix == ".parquet":
        # One file is one split; ``split`` only labels the samples.
        return datasets.load_dataset(
            "parquet", data_files=[str(path)], split="train", cache_dir=cache
        ), path
    if path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise DatasetError(
                path,
                "expected a save_to_disk folder (dataset_dict.json or state.json) or parquet "
                "files; found neither",
            )
        try:
            loaded = datasets.load_dataset(str(path), config, split=split, cache_dir=cache)
        except ValueError as exc:
            raise DatasetError(path, f"cannot read the parquet files: {exc}") from None
        return _pick_split(loaded, split, str(path)), path
    raise DatasetError(
        path,
        "not found: expected hf://<owner>/<name>, a save_to_disk folder, a .parquet file or "
        "a folder of parquet files",
    )


def _column_error(where: str, role: str, column: str, present: Sequence[str]) -> DatasetError:
    return DatasetError(
        where,
        f"missing column {column!r} (fields.{role}); the dataset has: {', '.join(present)}",
        column=column,
    )


def _text(value: Any, role: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"fields.{role}: expected text, got {type(value).__name__} {value!r}")


def _answers(value: Any) -> str | list[str] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        answers = [_text(v, "answers") for v in value if v is not None]
        return answers or None
    text = _text(value, "answers")
    return text if text.strip() else None


def _json_value(value: Any, column: str) -> Any:
    if isinstance(value, (bytes, bytearray)):
        raise ValueError(f"metadata column {column!r} holds binary data; leave it out")
    if isinstance(value, dict):
        return {k: _json_value(v, column) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v, column) for v in value]
    return value


class _ImageStore:
    """Writes image bytes once, under the sha256 of the bytes, and checks them once."""

    def __init__(self, cache_dir: Path, base: Path | None, validate: bool) -> None:
        self.folder = cache_dir / "images"
        self.base = base
        self.validate = validate

    def _bytes(self, value: Any) -> tuple[bytes, str | None]:
        path: str | None = None
        if isinstance(value, dict):  # an Image feature: {"bytes": ..., "path": ...}
            if value.get("bytes") is not None:
                return bytes(value["bytes"]), value.get("path")
            path = value.get("path")
        elif isinstance(value, (bytes, bytearray)):
            return bytes(value), None
        elif isinstance(value, str):
            path = value
        if not path:
            raise ValueError(f"no image: expected an Image, bytes or a path, got {value!r}")
        file = Path(path)
        if not file.is_absolute() and self.base is not None:
            file = self.base / file
        if not file.is_file():
            raise ValueError(f"image not found: {file} (the row holds a path and no bytes)")
        return file.read_bytes(), path

    def put(self, value: Any) -> str:
        data, name = self._bytes(value)
        try:
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format or ""
                if self.validate:
                    image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"unreadable image{f' {name}' if name else ''}: {exc}") from None
        suffix = _SUFFIXES.get(image_format, f".{image_format.lower() or 'img'}")
        target = self.folder / f"{hashlib.sha256(data).hexdigest()}{suffix}"
        if not target.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            partial.write_bytes(data)
            partial.replace(target)  # atomic: a killed run never leaves half an image
        return str(target.resolve())


def _image_values(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value]


def read_hf(
    source: str | Path,
    *,
    fields: HfFields | dict[str, Any] | None = None,
    config: str | None = None,
    split: str | None = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    hf_cache_dir: str | Path | None = None,
    doc_class: str | Iterable[str] | None = None,
    question_type: str | Iterable[str] | None = None,
    limit: int | None = None,
    shuffle_seed: int | None = None,
    on_error: OnError = "raise",
    validate_images: bool = True,
    require_reference: bool = True,
) -> Dataset:
    """Samples of a Hugging Face dataset (Hub id, ``save_to_disk`` folder or parquet).

    ``prompt_vars`` holds ``question`` (and ``fields.prompt_vars``); ``reference`` the answer,
    or the list of accepted answers when the column holds a list; ``metadata`` the row number,
    the split and the ``fields.metadata`` columns. ``cache_dir`` receives the images
    (default :func:`default_cache_dir`); ``hf_cache_dir`` is passed to ``datasets`` as its
    ``cache_dir`` (default: ``HF_HOME``).
    """
    try:
        mapping = fields if isinstance(fields, HfFields) else HfFields(**(fields or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DatasetError(str(source), f"fields.{where}: {first['msg']}", column=where) from None
    hub = parse_hub_source(str(source))
    if hub is not None:
        repo, at = hub
        if at and revision and at != revision:
            raise DatasetError(str(source), f"two revisions: {at!r} in the id, {revision!r}")
        revision = revision or at
        where = f"{HF_PREFIX}{repo}"
        table = _load_hub(repo, config, split, revision, hf_cache_dir)
        files = [Path(f["filename"]) for f in getattr(table, "cache_files", []) or []]
        identity: Path | None = files[0].parent if files else None
        base = None
    else:
        if revision is not None:
            raise DatasetError(
                str(source), f"revision {revision!r} applies to hf:// sources only; remove it"
            )
        path = Path(source).expanduser().resolve()
        where = str(path)
        table, identity = _load_local(path, config, split, hf_cache_dir)
        base = path if path.is_dir() else path.parent
    if config is not None or split is not None:
        where += f" ({'/'.join(p for p in (config, split) if p)})"
    images_dir = (Path(cache_dir) if cache_dir else default_cache_dir()).expanduser().resolve()

    present = list(table.column_names)
    for role, column in [("image", c) for c in mapping.image_columns] + mapping.text_columns():
        if column not in present:
            raise _column_error(where, role, column, present)
    value_type = _datasets_module().Value
    for role in ("doc_class", "question_type"):
        column = getattr(mapping, role)
        feature = None if column is None else table.features.get(column)
        if feature is not None and not isinstance(feature, value_type):
            raise DatasetError(
                where,
                f"fields.{role}: column {column!r} holds {feature}; a filter needs one text per "
                "row (keep the column under fields.metadata instead)",
                column=column,
            )

    policy = ErrorPolicy(on_error)
    rows: dict[str, tuple[int, dict[str, Any]]] = {}
    light: list[Sample] = []
    placeholder = str(images_dir / "pending")
    text_columns = sorted({c for _, c in mapping.text_columns()})
    # Pass 1, without the image columns: ids, texts and filters of every row.
    for row, record in enumerate(_records(table, text_columns)):
        sample_id = str(row) if mapping.id is None else record.get(mapping.id)
        try:
            if sample_id is None or not str(sample_id).strip():
                raise DatasetError(where, f"row {row}: empty id", column=mapping.id, sample_id=None)
            sample_id = str(sample_id).strip()
            data = _row_data(record, mapping, where, row, sample_id, split, require_reference)
            if sample_id in rows:
                raise DatasetError(
                    where,
                    f"row {row}: duplicated id {sample_id!r} (first in row {rows[sample_id][0]})",
                    column=mapping.id,
                    sample_id=sample_id,
                )
        except DatasetError as error:
            policy.handle(error)
            continue
        rows[sample_id] = (row, data)
        light.append(Sample(images=[placeholder], **data))

    # The very selection every other iterator makes (filter, shuffle, limit)...
    chosen = finish(
        Dataset(light, source=where, root=images_dir),
        doc_class=doc_class,
        question_type=question_type,
        shuffle_seed=shuffle_seed,
        limit=limit,
    )
    # ...then pass 2: the images of the chosen rows only, written once into the cache.
    store = _ImageStore(images_dir, base, validate_images)
    indices = [rows[s.id][0] for s in chosen]
    image_table = table.select_columns(mapping.image_columns).with_format("arrow")
    samples: list[Sample] = []
    for start in range(0, len(indices), _BATCH):
        part = image_table.select(indices[start : start + _BATCH])[:]
        for offset_in_part, record in enumerate(part.to_pylist()):
            sample_id = chosen[start + offset_in_part].id
            row, data = rows[sample_id]
            paths: list[str] = []
            try:
                for column in mapping.image_columns:
                    try:
                        paths += [store.put(v) for v in _image_values(record[column])]
                    except ValueError as exc:
                        raise DatasetError(
                            where, f"row {row}: {exc}", column=column, sample_id=sample_id
                        ) from None
                if not paths:
                    raise DatasetError(
                        where,
                        f"row {row}: no image",
                        column=mapping.image_columns[0],
                        sample_id=sample_id,
                    )
            except DatasetError as error:
                policy.handle(error)
                continue
            samples.append(Sample(images=paths, **data))
    source_path = identity if identity is not None else images_dir
    return Dataset(samples, source=source_path, root=images_dir, skipped=policy.skipped)


def _records(table: Any, columns: list[str]) -> Iterable[dict[str, Any]]:
    """The rows' values of ``columns``, read from Arrow in batches (no image is decoded)."""
    if not columns:
        yield from ({} for _ in range(table.num_rows))
        return
    for batch in table.select_columns(columns).with_format("arrow").iter(_BATCH):
        yield from batch.to_pylist()


def _row_data(
    record: dict[str, Any],
    mapping: HfFields,
    where: str,
    row: int,
    sample_id: str,
    split: str | None,
    require_reference: bool,
) -> dict[str, Any]:
    """Sample keyword arguments (all but the images) of one row; raises DatasetError."""
    column = None
    try:
        prompt_vars: dict[str, str] = {}
        if mapping.question is not None:
            column = mapping.question
            value = record[column]
            if value is None or not _text(value, "question").strip():
                raise ValueError("empty question")
            prompt_vars["question"] = _text(value, "question")
        for name, column in mapping.prompt_vars.items():
            value = record[column]
            prompt_vars[name] = "" if value is None else _prompt_text(value, name)
        reference = None
        if mapping.answers is not None:
            column = mapping.answers
            reference = _answers(record[column])
        label = None
        if mapping.label is not None:
            column = mapping.label
            label = None if record[column] is None else _text(record[column], "label")
        filters: dict[str, str | None] = {}
        for role in ("doc_class", "question_type"):
            column = getattr(mapping, role)
            value = None if column is None else record[column]
            filters[role] = None if value is None else _text(value, role)
        metadata: dict[str, Any] = {"row": row}
        if split is not None:
            metadata["split"] = split
        for column in mapping.metadata:
            metadata[column] = _json_value(record[column], column)
        column = None
        if require_reference and reference is None and label is None:
            column = mapping.answers or mapping.label
            raise ValueError(
                "record without a reference: no answer"
                if column
                else "record without a reference: set fields.answers (or fields.label), "
                "or require_reference=False"
            )
    except ValueError as exc:
        raise DatasetError(where, f"row {row}: {exc}", column=column, sample_id=sample_id) from None
    return {
        "id": sample_id,
        "prompt_vars": prompt_vars,
        "reference": reference,
        "label": label,
        "metadata": metadata,
        **filters,
    }


def _prompt_text(value: Any, name: str) -> str:
    if isinstance(value, list):  # e.g. TextVQA's ocr_tokens
        return ", ".join(_text(v, f"prompt_vars.{name}") for v in value)
    return _text(value, f"prompt_vars.{name}")
