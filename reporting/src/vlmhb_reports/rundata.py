"""One run's data, read from the work dir into a :class:`RunData`: the figures and
report.html only look at that, never at files.

Per run, the files its stages wrote::

    runs/<infer_id>/{run.json, answers.jsonl}
    evals/<eval_id>/{per_sample.csv, metrics_<aggregator>.csv, metrics.json}
    datasets/<sync_id>/samples.jsonl
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .columns import BASE_COLUMNS, quality_columns
from .files import ReportDataError, read_csv, read_json, read_jsonl, read_object
from .speed import speed_figures

#: Aggregators whose tables are shown per run (``metrics_<name>.csv``).
BREAKDOWNS = ("by_doc_type", "by_doc_question")


@dataclass
class RunData:
    """One run's leaderboard row and the per-sample files behind it."""

    row: dict[str, Any]
    quality: list[str] = field(default_factory=list)
    """The run's quality columns, in leaderboard order."""
    higher: dict[str, bool] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    per_sample: list[dict[str, Any]] = field(default_factory=list)
    breakdowns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    """runs/<id>/run.json: what the run asked for (filters, limit, generation, prompt)."""
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    main: str | None = None
    """The task's declared main metric (runs.json ``main_metric``), when the run has it."""
    per_field: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """metrics.json ``per_field``: field -> metric column -> {value, ci, n}."""

    @property
    def name(self) -> str:
        return str(self.row.get("run", ""))

    @property
    def task(self) -> str:
        return str(self.row.get("task", ""))


def load_run(
    row: dict[str, Any],
    workdir: Path,
    infer_id: str | None,
    eval_id: str | None,
    columns: Iterable[str] | None = None,
    main: str | None = None,
) -> RunData:
    """One run's data from the work dir; ``row`` is its leaderboard row, ``main`` its main
    metric (runs.json)."""
    workdir = Path(workdir)
    run_dir = workdir / "runs" / str(infer_id) if infer_id else None
    eval_dir = workdir / "evals" / str(eval_id) if eval_id else None
    config = read_object(run_dir / "run.json") if run_dir else {}
    answers = read_jsonl(run_dir / "answers.jsonl") if run_dir else {}
    sync_id = config.get("sync_id")
    samples = read_jsonl(workdir / "datasets" / str(sync_id) / "samples.jsonl") if sync_id else {}
    summary = read_object(eval_dir / "metrics.json") if eval_dir else {}
    quality = [c for c in quality_columns(columns or row) if row.get(c) is not None]
    latencies = row.get("_latencies")
    if latencies is None:  # the leaderboard's definition: cached answers left out
        latencies = speed_figures(list(answers.values()))["latencies"]
    return RunData(
        row=row,
        quality=quality,
        higher={k: bool(v) for k, v in (summary.get("higher_is_better") or {}).items()},
        latencies=list(latencies),
        per_sample=read_csv(eval_dir / "per_sample.csv") if eval_dir else [],
        breakdowns={
            name: read_csv(eval_dir / f"metrics_{name}.csv") if eval_dir else []
            for name in BREAKDOWNS
        },
        config=config,
        samples=samples,
        answers=answers,
        main=main if main in quality else None,
        per_field=dict(summary.get("per_field") or {}),
    )


def load_experiment(workdir: Path, experiment: str) -> tuple[list[str], list[RunData]]:
    """A finished experiment's report (``reports/<name>/{runs.json,leaderboard.csv}``)."""
    folder = Path(workdir) / "reports" / experiment
    runs_file, board_file = folder / "runs.json", folder / "leaderboard.csv"
    if not runs_file.is_file():
        raise ReportDataError(f"{runs_file}: missing; run the experiment's report stage first")
    runs = read_json(runs_file)
    if not isinstance(runs, list):
        raise ReportDataError(f"{runs_file}: expected a JSON list of runs")
    rows = {str(r.get("run")): r for r in read_csv(board_file)}
    columns: list[str] = []
    if board_file.is_file():
        with board_file.open(encoding="utf-8", newline="") as handle:
            columns = next(csv.reader(handle), [])
    loaded = []
    for i, entry in enumerate(runs):
        if not isinstance(entry, dict) or "run" not in entry:
            raise ReportDataError(f"{runs_file}: entry {i}: expected an object with 'run'")
        row = rows.get(str(entry["run"])) or {k: entry.get(k) for k in BASE_COLUMNS}
        loaded.append(
            load_run(
                row,
                Path(workdir),
                entry.get("infer_id"),
                entry.get("eval_id"),
                columns,
                entry.get("main_metric"),
            )
        )
    return columns, loaded
