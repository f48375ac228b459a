"""The work dir's folder and file names, in one place.

Every stage's output folder is named by its content-hashed id under a folder of its kind, so
re-running finds finished work by id alone. The core writes these folders; the reports, the
v0.1 export and the management server read them; all of them take the names from here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DONE_MARKER = ".done"
"""Written last into a stage folder: without it the folder is incomplete (resumed or redone)."""

STAGE_FOLDERS = {
    "sync": "datasets",
    "infer": "runs",
    "eval": "evals",
    "report": "reports",
    "upload": "uploads",
}
"""Stage kind -> the work-dir folder that holds one sub-folder per stage."""

# What a stage's folder holds (the names its stage writes).
SAMPLES_FILE = "samples.jsonl"
"""sync: one synced sample per line."""
MANIFEST_FILE = "manifest.json"
"""sync: the data's fingerprint, sample count and ``root``."""
RUN_CONFIG_FILE = "run.json"
"""infer: what the run asked for (``sync_id``, model, task, generation, prompt)."""
ANSWERS_FILE = "answers.jsonl"
"""infer: one answer per line, appended as they arrive."""
TELEMETRY_FILE = "telemetry.json"
"""infer: peak memory and load while inferring."""
METRICS_FILE = "metrics.json"
"""eval: aggregates, CIs, versions, ``higher_is_better``, ``aggregation``, ``per_field``."""
PER_SAMPLE_FILE = "per_sample.csv"
"""eval: one row of scores per sample."""
RATIOS_FILE = "ratios.json"
"""eval: per-sample numerators and denominators of corpus-level metrics (CER, WER)."""
RUNS_INDEX_FILE = "runs.json"
"""report: one entry per run of the experiment (``run``, ``infer_id``, ``eval_id``...)."""
LEADERBOARD_FILE = "leaderboard.csv"
"""report: one row per run, every column."""
EVENTS_FILE = "events.jsonl"
"""report: the experiment's events, one per line."""
TRACKER_FILE = "tracker.sqlite"
"""work-dir root: the tracker's database."""


def aggregate_file(aggregator: str) -> str:
    """eval: the table of one aggregator (``metrics_by_doc_type.csv``...)."""
    return f"metrics_{aggregator}.csv"


class Workdir:
    """Where a run's outputs live under ``root``: ``datasets/<id>``, ``runs/<id>``,
    ``evals/<id>``, ``servers/<model>``, ``reports/<experiment>``, the tracker and the caches.

    ``root`` is the work dir; an object of this class is its layout (call it ``layout``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def stage_dir(self, kind: str, stage_id: str) -> Path:
        """Output folder of a stage of ``kind`` (``sync``, ``infer``, ``eval``, ``upload``;
        report stages are named by experiment: :meth:`report_dir`)."""
        return self.root / STAGE_FOLDERS[kind] / stage_id

    def stage_root(self, kind: str) -> Path:
        """The folder holding every stage folder of ``kind``."""
        return self.root / STAGE_FOLDERS[kind]

    def report_dir(self, experiment: str) -> Path:
        return self.root / STAGE_FOLDERS["report"] / experiment

    def server_dir(self, model: str) -> Path:
        return self.servers_root / model

    def generated_dir(self, generator_id: str) -> Path:
        return self.generated_root / generator_id

    def cache_dir(self, source_id: str) -> Path:
        return self.cache_root / source_id

    @property
    def servers_root(self) -> Path:
        return self.root / "servers"

    @property
    def generated_root(self) -> Path:
        return self.root / "generated"

    @property
    def cache_root(self) -> Path:
        return self.root / "cache"

    @property
    def models_root(self) -> Path:
        """Model weights prepared in the work dir (``${VLMHB_WORKDIR}/models/...``)."""
        return self.root / "models"

    @property
    def tracker_db(self) -> Path:
        return self.root / TRACKER_FILE

    def events_log(self, experiment: str) -> Path:
        return self.report_dir(experiment) / EVENTS_FILE

    @staticmethod
    def is_done(folder: Path) -> bool:
        return (folder / DONE_MARKER).is_file()

    @staticmethod
    def mark_done(folder: Path) -> None:
        """Atomically, last: its presence means every output above it is complete."""
        partial = folder / f"{DONE_MARKER}.partial"
        partial.write_text(f"{time.time()}\n", encoding="utf-8")
        os.replace(partial, folder / DONE_MARKER)
