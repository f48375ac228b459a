"""Reading ``vlm_base.csv``, the model list existing VLMHyperBench users have.

Columns: ``framework;model_family;model_name;docker_image;git_python_package;python_package;
module;class_name``. ``vlmhyperbench.migration.v01.model_entries`` turns the rows into model
entries (the v0.1 model packages are kept as metadata: our adapters serve the models).
"""

from __future__ import annotations

import csv
import re
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
    pass


def slug(text: str) -> str:
    """A registry entry name from a model name such as 'Qwen/Qwen2-VL-2B-Instruct'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-._") or "model"


def parse_git_package(spec: str) -> tuple[str, str | None]:
    """'git+https://host/org/repo.git@v1.2' -> ('https://host/org/repo.git', 'v1.2')."""
    spec = spec.strip().removeprefix("git+")
    match = re.fullmatch(r"(?P<url>.+?\.git|.+?)(?:@(?P<ref>[^@/]+))?", spec)
    if match is None or not re.match(r"^(https?|ssh|file|git)://|^git@", match["url"]):
        raise VlmBaseError(
            f"expected a git URL with a tag such as git+https://host/repo.git@v1.0, got {spec!r}"
        )
    return match["url"], match["ref"]


def read_vlm_base(path: Path) -> list[dict[str, str]]:
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
