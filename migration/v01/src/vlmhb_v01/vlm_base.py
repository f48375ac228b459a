"""Reading ``vlm_base.csv``, the model list existing VLMHyperBench users have.

Columns: ``framework;model_family;model_name;docker_image;git_python_package;python_package;
module;class_name``. :func:`vlmhb_v01.model_entries` turns the rows into model
entries (the v0.1 model packages are kept as metadata: our adapters serve the models).
"""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = (
    "framework",
    "model_family",
    "model_name",
    "docker_image",
    "git_python_package",
    "python_package",
    "module",
    "class_name",
)


class VlmBaseError(ValueError):
    """vlm_base.csv is not what v0.1 wrote; the message names the file and line."""


def read_vlm_base(path: Path) -> list[dict[str, str]]:
    """The rows, cells stripped, each with ``_line`` (its line in the file) so that later
    problems can name the row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise VlmBaseError(f"{path}: file not found") from exc
    reader = csv.DictReader(text.splitlines(), delimiter=";")
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise VlmBaseError(
            f"{path}:1: missing columns {', '.join(missing)}; expected {';'.join(COLUMNS)}"
        )
    reader.fieldnames = header
    rows = []
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        for required in ("framework", "model_name", "python_package"):
            if not row.get(required):
                raise VlmBaseError(f"{path}:{line}: column {required!r} is empty; expected a value")
        row["_line"] = str(line)
        rows.append(row)
    return rows
