"""Write the embedded default dataset: images and the references of three tasks.

The same ``seed`` gives byte-identical files on every machine with the same Pillow: every
random draw comes from a ``random.Random`` seeded by ``(seed, document index)``, text is laid
out by FreeType alone (see :mod:`.typefaces`), the scan noise is integer arithmetic (see
:mod:`.noise`), and PNG output (fixed compression settings, no optional chunks) carries no
timestamp. :func:`fingerprint` names the result; ``summary.json`` also records a digest of
each image's decoded pixels, which tells a pixel difference from a PNG-codec difference.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import shutil
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from PIL import Image
from pydantic import BaseModel

from vlmhb_synthetic_docs.noise import apply_noise
from vlmhb_synthetic_docs.render import DOC_CLASSES, FIELDS, RENDERERS, RenderedDocument
from vlmhb_synthetic_docs.schemas import json_schema

VQA_HEADER = [
    "data_index",
    "split",
    "image_path",
    "question",
    "answer",
    "doc_class",
    "question_type",
    "answer_bbox",
]
PROMPTS_FILE = "prompts_vqa.csv"


class DocumentInfo(BaseModel):
    id: str
    doc_class: str
    image: str  # relative to the output folder
    fields: dict[str, str]
    pixels_sha256: str  # of the decoded RGB pixels (see pixels_digest)


class GenerationSummary(BaseModel):
    """What was written where; ``files`` maps a task to the file its iterator reads."""

    out_dir: str
    seed: int
    count: int
    noise: int
    documents: list[DocumentInfo]
    vqa_questions: int
    files: dict[str, str]
    fingerprint: str = ""  # fingerprint(out_dir) of everything written; not in summary.json


def question(doc_class: str, field: str) -> str:
    return f"Write the {field}" if doc_class == "invoice" else f"Напиши {field}"


def render_document(
    index: int, doc_class: str, seed: int, noise: int
) -> tuple[RenderedDocument, dict[str, float]]:
    """One document, drawn and degraded from generators seeded by (seed, index) only."""
    rng = random.Random(f"vlmhb-synthetic-docs:{seed}:{index}")
    doc = RENDERERS[doc_class](rng)
    doc.image, doc.boxes, params = apply_noise(doc.image, doc.boxes, noise, rng)
    return doc, params


def pixels_digest(image: Image.Image) -> str:
    """sha256 of mode, size and raw pixels: equal whatever codec stored the image."""
    header = f"{image.mode} {image.width}x{image.height}\n".encode()
    return hashlib.sha256(header + image.tobytes()).hexdigest()


def save_png(image: Image.Image, path: Path) -> None:
    """PNG with fixed settings, so the bytes are a function of the pixels and Pillow's zlib."""
    image.save(path, format="PNG", compress_level=6, optimize=False)


def file_digests(out_dir: str | Path) -> dict[str, str]:
    """Relative path -> sha256 of every file in a generated folder (dot-files excepted).

    Dot-files are skipped because the core marks a finished folder with ``.complete`` (0.2:
    ``.vlmhb-complete``) and the data layer keeps its own ``.vlmhb-*`` state there.
    """
    root = Path(out_dir)
    digests: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            digests[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def fingerprint(out_dir: str | Path) -> str:
    """``sha256:...`` of every file's relative path and bytes: one name for a generated folder.

    It depends on the content only (not on where the folder is or when it was made), so a
    registry entry can pin it as its ``checksum:`` and a test can pin the default dataset.
    """
    root = Path(out_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"fingerprint: no generated folder at {root}")
    lines = "".join(f"{name}\0{digest}\n" for name, digest in file_digests(root).items())
    return "sha256:" + hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _jsonl(path: Path, records: list[dict]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
        encoding="utf-8",
    )


def check_request(count: int, doc_classes: Sequence[str], known: Sequence[str]) -> None:
    """Refuse a request before anything is written: a count below 1, or an unknown class."""
    if count < 1:
        raise ValueError(f"count: expected at least 1, got {count}")
    if not doc_classes or any(c not in known for c in doc_classes):
        raise ValueError(f"doc_classes: expected some of {list(known)}, got {list(doc_classes)}")


def write_summary(out: Path, summary: BaseModel) -> str:
    """``summary.json`` (position-free: ``out_dir`` is "."), then the folder's fingerprint."""
    for_file = summary.model_dump(mode="json", exclude={"fingerprint"})
    for_file["out_dir"] = "."  # the folder may move; keep the file position-free
    (out / "summary.json").write_text(
        json.dumps(for_file, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return fingerprint(out)


def generate(
    out_dir: str | Path,
    *,
    seed: int = 0,
    count: int = 9,
    noise: int = 1,
    doc_classes: list[str] | tuple[str, ...] = DOC_CLASSES,
) -> GenerationSummary:
    """Generate ``count`` documents (doc classes in turn) into ``out_dir``; see the README."""
    check_request(count, doc_classes, DOC_CLASSES)
    out = Path(out_dir)
    for sub in ("images", "jsons", "schemas"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    vqa_rows: list[list[str]] = []
    ocr: list[dict] = []
    extraction: list[dict] = []
    documents: list[DocumentInfo] = []
    for index in range(count):
        doc_class = doc_classes[index % len(doc_classes)]
        doc, params = render_document(index, doc_class, seed, noise)
        doc_id = f"{index:04d}_{doc_class}"
        image = f"images/{doc_id}.png"
        save_png(doc.image, out / image)
        for name in FIELDS[doc_class]:
            vqa_rows.append(
                [
                    str(index),
                    "test",
                    image,
                    question(doc_class, name),
                    doc.fields[name],
                    doc_class,
                    name,
                    json.dumps(doc.boxes[name]),
                ]
            )
        ocr.append({"id": doc_id, "image": image, "reference": doc.text, "doc_class": doc_class})
        schema = f"schemas/{doc_class}.schema.json"
        extraction.append(
            {
                "id": doc_id,
                "image": image,
                "fields": doc.fields,
                "doc_class": doc_class,
                "prompt_vars": {
                    "field_names": ", ".join(FIELDS[doc_class]),
                    "json_schema": json.dumps(json_schema(doc_class), ensure_ascii=False),
                },
                "metadata": {"schema": schema},
            }
        )
        truth = {
            "index": doc_id,
            "doc_class": doc_class,
            "text": doc.text,
            "fields": {n: {"value": doc.fields[n], "bboxes": [doc.boxes[n]]} for n in doc.fields},
            "image_size": list(doc.image.size),
            "noise": {"level": noise, **params},
        }
        (out / "jsons" / f"{doc_id}.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        documents.append(
            DocumentInfo(
                id=doc_id,
                doc_class=doc_class,
                image=image,
                fields=doc.fields,
                pixels_sha256=pixels_digest(doc.image),
            )
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(VQA_HEADER)
    writer.writerows(vqa_rows)
    (out / "annotation.csv").write_bytes("\ufeff".encode() + buffer.getvalue().encode("utf-8"))
    _jsonl(out / "ocr.jsonl", ocr)
    _jsonl(out / "fields.jsonl", extraction)
    for doc_class in sorted(set(doc_classes)):
        (out / "schemas" / f"{doc_class}.schema.json").write_text(
            json.dumps(json_schema(doc_class), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    with (files("vlmhb_synthetic_docs") / "data" / PROMPTS_FILE).open("rb") as src:
        with (out / PROMPTS_FILE).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    summary = GenerationSummary(
        out_dir=str(out.resolve()),
        seed=seed,
        count=count,
        noise=noise,
        documents=documents,
        vqa_questions=len(vqa_rows),
        files={
            "vqa": "annotation.csv",
            "ocr": "ocr.jsonl",
            "fields": "fields.jsonl",
            "fields-json": "jsons",
            "prompts": PROMPTS_FILE,
        },
    )
    summary.fingerprint = write_summary(out, summary)
    return summary
