"""The work dir's folder layout, in one place.

Every stage's output folder is named by its content-hashed id under a folder of its kind, so
re-running finds finished work by id alone. Nothing else in the core builds these paths.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

DONE_MARKER = ".done"
"""Written last into a stage folder: without it the folder is incomplete (resumed or redone)."""

_KIND_FOLDERS = {
    "sync": "datasets",
    "infer": "runs",
    "eval": "evals",
    "report": "reports",
    "upload": "uploads",
}


class Workdir:
    """Where a run's outputs live: ``datasets/<id>``, ``runs/<id>``, ``evals/<id>``,
    ``servers/<model>``, ``reports/<experiment>``, the tracker and the caches."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def stage_dir(self, kind: str, stage_id: str) -> Path:
        """Output folder of a stage (report stages are named by experiment, not by id)."""
        return self.root / _KIND_FOLDERS[kind] / stage_id

    def report_dir(self, experiment: str) -> Path:
        return self.root / "reports" / experiment

    def server_dir(self, model: str) -> Path:
        return self.root / "servers" / model

    def generated_dir(self, generator_id: str) -> Path:
        return self.root / "generated" / generator_id

    def cache_dir(self, source_id: str) -> Path:
        return self.root / "cache" / source_id

    @property
    def generated_root(self) -> Path:
        return self.root / "generated"

    @property
    def cache_root(self) -> Path:
        return self.root / "cache"

    @property
    def tracker_db(self) -> Path:
        return self.root / "tracker.sqlite"

    def events_log(self, experiment: str) -> Path:
        return self.report_dir(experiment) / "events.jsonl"

    @staticmethod
    def is_done(folder: Path) -> bool:
        return (folder / DONE_MARKER).is_file()

    @staticmethod
    def mark_done(folder: Path) -> None:
        """Atomically, last: its presence means every output above it is complete."""
        partial = folder / f"{DONE_MARKER}.partial"
        partial.write_text(f"{time.time()}\n", encoding="utf-8")
        os.replace(partial, folder / DONE_MARKER)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary name, then rename): a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
