"""Reading what the stages wrote into a work dir, with errors that name the file and line.

A missing file gives an empty part (a run that failed before its evaluation still has a
leaderboard row); a file that is there but unreadable raises :class:`WorkdirFileError`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

_INTEGER = re.compile(r"-?\d+")


class WorkdirFileError(ValueError):
    """A work dir file that exists but cannot be read as its stage wrote it."""


def number(value: Any) -> Any:
    """CSV cells back to numbers; empty cells (NaN when written) to None."""
    if value is None or isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else value
    text = str(value).strip()
    if text == "":
        return None
    try:
        parsed = float(text)
    except ValueError:
        return value
    if math.isnan(parsed):
        return None
    return int(parsed) if _INTEGER.fullmatch(text) else parsed


def read_csv_text(path: Path) -> list[dict[str, str]]:
    """Rows with every cell as written (for a copy that must keep them so); [] when the
    file is missing."""
    if not path.is_file():
        return []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise WorkdirFileError(f"{path}: not a readable CSV: {exc}") from exc


def read_csv(path: Path, text_columns: tuple[str, ...] = ("id", "answer")) -> list[dict[str, Any]]:
    """Rows with numbers parsed (except ``text_columns``); [] when the file is missing."""
    return [
        {k: (number(v) if k not in text_columns else v) for k, v in row.items()}
        for row in read_csv_text(path)
    ]


def csv_header(path: Path) -> list[str]:
    """A CSV file's column names, in order; [] when the file is missing or empty."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def read_jsonl(path: Path, key: str = "id") -> dict[str, dict[str, Any]]:
    """Records by ``key``; a half-written last line (an interrupted run) is ignored."""
    found: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return found
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if not line.endswith("\n"):
                    break
                raise WorkdirFileError(f"{path}:{line_number}: not JSON: {exc.msg}") from exc
            if not isinstance(record, dict) or key not in record:
                raise WorkdirFileError(f"{path}:{line_number}: expected an object with {key!r}")
            found[str(record[key])] = record
    return found


def read_json(path: Path) -> Any:
    """A JSON file's content; {} when the file is missing."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorkdirFileError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc


def read_object(path: Path) -> dict[str, Any]:
    """A JSON object's content; {} when the file is missing."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise WorkdirFileError(f"{path}: expected a JSON object")
    return data


def write_json(path: Path, data: Any) -> None:
    """Written under a temporary name and renamed: a kill never leaves half a file, and a
    reader never sees one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)
