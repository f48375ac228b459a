"""Prompt collections: the CSV a prompt entry's ``collection_file`` names.

The registry owns this format (a prompt entry's collection is part of the registry, and
``vlmhb validate`` checks the file). It is the one VLMHyperBench v0.1 users' prompt collections
already have, so their files are referenced as they are: ``;``-separated, UTF-8 with or
without a BOM, columns ``prompt;doc_class_question_type[;cer]``. The key is
"<doc_class> <question_type>" and the prompt replaces the dataset's question for samples with
that key.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["REQUIRED_COLUMNS", "PromptCollectionError", "read_prompt_collection"]

REQUIRED_COLUMNS = ("prompt", "doc_class_question_type")


class PromptCollectionError(ValueError):
    """A collection CSV is not in the expected format; the message names the file and line."""


def read_prompt_collection(path: Path) -> dict[str, str]:
    """``{"<doc_class> <question_type>": prompt}``; a duplicate key is an error, since only
    one of the two prompts could be used."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise PromptCollectionError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise PromptCollectionError(f"{path}: expected UTF-8 text ({exc.reason})") from exc
    reader = csv.DictReader(text.splitlines(), delimiter=";")
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise PromptCollectionError(
            f"{path}:1: expected columns {';'.join(REQUIRED_COLUMNS)}, missing {', '.join(missing)}"
            f" (found {';'.join(header) or 'nothing'})"
        )
    reader.fieldnames = header
    collection: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        key = (row.get("doc_class_question_type") or "").strip()
        prompt = (row.get("prompt") or "").strip()
        if not key or not prompt:
            raise PromptCollectionError(
                f"{path}:{line}: expected a prompt and a '<doc_class> <question_type>' key"
            )
        if key in collection:
            raise PromptCollectionError(f"{path}:{line}: duplicate key {key!r}")
        collection[key] = prompt
    return collection
