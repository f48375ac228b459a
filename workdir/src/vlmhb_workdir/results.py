"""A finished experiment's results, read once from the work dir.

The report stage leaves ``reports/<experiment>/runs.json`` (one entry per run: ``run``,
``model``, ``dataset``, ``prompt``, ``task``, ``infer_id``, ``eval_id``, ``error``...) and
``leaderboard.csv``; each run's stages left::

    runs/<infer_id>/{run.json, answers.jsonl, telemetry.json}
    evals/<eval_id>/{metrics.json, per_sample.csv, metrics_<aggregator>.csv, ratios.json}
    datasets/<sync_id>/{samples.jsonl, manifest.json}

:func:`load_experiment` reads the index, the leaderboard and each run's small files
(``run.json``, ``metrics.json``) and locates the large ones, which the caller reads as it
needs them (the reports all at once, the management server sample by sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import WorkdirFileError, csv_header, read_csv, read_json, read_object
from .layout import (
    ANSWERS_FILE,
    LEADERBOARD_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    PER_SAMPLE_FILE,
    RUN_CONFIG_FILE,
    RUNS_INDEX_FILE,
    SAMPLES_FILE,
    TELEMETRY_FILE,
    Workdir,
    aggregate_file,
)


class ExperimentNotFound(WorkdirFileError, FileNotFoundError):
    """The work dir holds no report of the experiment (its ``runs.json`` is missing)."""


@dataclass(frozen=True)
class RunResult:
    """One run of a finished experiment: its ``runs.json`` entry, its leaderboard row, the
    small files of its stages and where the large ones are."""

    entry: Mapping[str, Any]
    """The run's ``runs.json`` entry."""
    row: dict[str, Any] | None
    """Its ``leaderboard.csv`` row (numbers parsed), None when the leaderboard lacks it."""
    config: dict[str, Any]
    """``runs/<infer_id>/run.json``: what the run asked for; {} without an infer stage."""
    summary: dict[str, Any]
    """``evals/<eval_id>/metrics.json``; {} without an evaluation."""
    infer_dir: Path | None
    eval_dir: Path | None
    sync_dir: Path | None

    @property
    def name(self) -> str:
        return str(self.entry.get("run", ""))

    @property
    def answers_file(self) -> Path | None:
        return self.infer_dir / ANSWERS_FILE if self.infer_dir else None

    @property
    def telemetry_file(self) -> Path | None:
        return self.infer_dir / TELEMETRY_FILE if self.infer_dir else None

    @property
    def per_sample_file(self) -> Path | None:
        return self.eval_dir / PER_SAMPLE_FILE if self.eval_dir else None

    def aggregate_file(self, aggregator: str) -> Path | None:
        """The evaluation's ``metrics_<aggregator>.csv``."""
        return self.eval_dir / aggregate_file(aggregator) if self.eval_dir else None

    @property
    def samples_file(self) -> Path | None:
        return self.sync_dir / SAMPLES_FILE if self.sync_dir else None

    @property
    def data_root(self) -> Path | None:
        """Where the synced dataset's images lie (``manifest.json`` ``root``), if recorded."""
        if self.sync_dir is None:
            return None
        root = read_object(self.sync_dir / MANIFEST_FILE).get("root")
        return Path(root) if root else None


@dataclass(frozen=True)
class ExperimentResult:
    """A finished experiment: its report folder, leaderboard columns and runs, in order."""

    name: str
    report_dir: Path
    columns: list[str] = field(default_factory=list)
    """``leaderboard.csv``'s columns, in order ([] without a leaderboard)."""
    runs: list[RunResult] = field(default_factory=list)


def _layout(workdir: Path | str | Workdir) -> Workdir:
    return workdir if isinstance(workdir, Workdir) else Workdir(Path(workdir))


def read_run(
    workdir: Path | str | Workdir, entry: Mapping[str, Any], row: dict[str, Any] | None = None
) -> RunResult:
    """One run's stage folders (from ``entry``'s ``infer_id`` / ``eval_id`` and its
    ``run.json`` ``sync_id``) and their small files."""
    layout = _layout(workdir)
    infer_id, eval_id = entry.get("infer_id"), entry.get("eval_id")
    infer_dir = layout.stage_dir("infer", str(infer_id)) if infer_id else None
    eval_dir = layout.stage_dir("eval", str(eval_id)) if eval_id else None
    config = read_object(infer_dir / RUN_CONFIG_FILE) if infer_dir else {}
    sync_id = config.get("sync_id")
    return RunResult(
        entry=entry,
        row=row,
        config=config,
        summary=read_object(eval_dir / METRICS_FILE) if eval_dir else {},
        infer_dir=infer_dir,
        eval_dir=eval_dir,
        sync_dir=layout.stage_dir("sync", str(sync_id)) if sync_id else None,
    )


def load_experiment(workdir: Path | str | Workdir, experiment: str) -> ExperimentResult:
    """The report of ``experiment`` in ``workdir`` (``reports/<experiment>/runs.json`` and
    ``leaderboard.csv``) and each of its runs (:func:`read_run`).

    Raises :class:`ExperimentNotFound` without ``runs.json``, :class:`WorkdirFileError` (naming
    the file, and the entry) when a file is not what the stages write."""
    layout = _layout(workdir)
    folder = layout.report_dir(experiment)
    runs_file, board_file = folder / RUNS_INDEX_FILE, folder / LEADERBOARD_FILE
    if not runs_file.is_file():
        raise ExperimentNotFound(
            f"{runs_file}: missing; no report for experiment {experiment!r} (run the "
            "experiment's report stage first)"
        )
    entries = read_json(runs_file)
    if not isinstance(entries, list):
        raise WorkdirFileError(f"{runs_file}: expected a JSON list of runs")
    # the run name is the key (kept as text: a run called "007" is not the number 7)
    rows = {str(r.get("run")): r for r in read_csv(board_file, ("id", "answer", "run"))}
    runs = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "run" not in entry:
            raise WorkdirFileError(f"{runs_file}: entry {i}: expected an object with 'run'")
        runs.append(read_run(layout, entry, rows.get(str(entry["run"]))))
    return ExperimentResult(experiment, folder, csv_header(board_file), runs)
