"""One run's data, read from the work dir into a :class:`RunData`: the figures and
report.html only look at that, never at files. Where the files are, and the small ones
(``runs.json``, ``leaderboard.csv``, ``run.json``, ``metrics.json``), vlmhb-workdir reads;
this module adds the per-sample files the figures need.

Per run, the files its stages wrote::

    runs/<infer_id>/{run.json, answers.jsonl}
    evals/<eval_id>/{per_sample.csv, metrics_<aggregator>.csv, metrics.json}
    datasets/<sync_id>/samples.jsonl
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmhb_workdir import RunResult, read_csv, read_jsonl, read_run
from vlmhb_workdir import load_experiment as read_experiment

from .columns import BASE_COLUMNS, quality_columns
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
    found = read_run(workdir, {"infer_id": infer_id, "eval_id": eval_id})
    return run_data(row, found, columns, main)


def run_data(
    row: dict[str, Any],
    found: RunResult,
    columns: Iterable[str] | None = None,
    main: str | None = None,
) -> RunData:
    """A run as vlmhb-workdir found it, with its per-sample files read for the figures."""
    answers = read_jsonl(found.answers_file) if found.answers_file else {}
    samples = read_jsonl(found.samples_file) if found.samples_file else {}
    quality = [c for c in quality_columns(columns or row) if row.get(c) is not None]
    latencies = row.get("_latencies")
    if latencies is None:  # the leaderboard's definition: cached answers left out
        latencies = speed_figures(list(answers.values()))["latencies"]
    return RunData(
        row=row,
        quality=quality,
        higher={k: bool(v) for k, v in (found.summary.get("higher_is_better") or {}).items()},
        latencies=list(latencies),
        per_sample=read_csv(found.per_sample_file) if found.per_sample_file else [],
        breakdowns={
            name: read_csv(path) if (path := found.aggregate_file(name)) else []
            for name in BREAKDOWNS
        },
        config=found.config,
        samples=samples,
        answers=answers,
        main=main if main in quality else None,
        per_field=dict(found.summary.get("per_field") or {}),
    )


def load_experiment(workdir: Path, experiment: str) -> tuple[list[str], list[RunData]]:
    """A finished experiment's report (``reports/<name>/{runs.json,leaderboard.csv}``), read by
    :func:`vlmhb_workdir.load_experiment`: its leaderboard columns and each run's data."""
    result = read_experiment(workdir, experiment)
    loaded = [
        run_data(
            found.row or {k: found.entry.get(k) for k in BASE_COLUMNS},
            found,
            result.columns,
            found.entry.get("main_metric"),
        )
        for found in result.runs
    ]
    return result.columns, loaded
