"""Judgments kept on disk, so a judge is asked about an answer once.

The key is a hash of everything that decides a verdict: the judge's identity (endpoint,
model, snapshot, generation), the rubric and the (question, references, answer). Re-scoring
with the same judge (a new aggregation, a metric re-run, another report) asks nobody; a new
judge, snapshot or rubric is a new key. SQLite, because several eval stages may share it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

CACHE_ENV = "VLMHB_JUDGE_CACHE"


def default_cache_path() -> Path:
    """``$VLMHB_JUDGE_CACHE``, else ``~/.cache/vlmhb/judgments.sqlite``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.path.expanduser("~/.cache/vlmhb/judgments.sqlite"))


def judgment_key(judge: dict[str, Any], rubric: dict[str, Any], case: dict[str, Any]) -> str:
    text = json.dumps([judge, rubric, case], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class JudgmentCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS judgments "
            "(key TEXT PRIMARY KEY, verdict TEXT NOT NULL, rationale TEXT NOT NULL)"
        )
        self._db.commit()

    def get(self, key: str) -> tuple[str, str] | None:
        row = self._db.execute(
            "SELECT verdict, rationale FROM judgments WHERE key = ?", (key,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, key: str, verdict: str, rationale: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO judgments VALUES (?, ?, ?)", (key, verdict, rationale)
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()
