"""What a report writer is given: one entry per run of the experiment.

The core's report stage passes, for each run, the keys below; ``runs.json`` in the report
folder keeps them (all but ``metrics``), so a finished report can be read again without the
core (:func:`runs_index`, :func:`vlmhb_reports.load_experiment`).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, NotRequired, Protocol, TypedDict

from vlmhb_workdir import RUNS_INDEX_FILE, Workdir, read_json


class RunEntry(TypedDict):
    run: str
    model: str
    dataset: str
    prompt: str
    task: str
    infer_id: str | None
    eval_id: str | None
    error: str | None
    complete: bool
    metric_versions: dict[str, str]
    telemetry_metrics: NotRequired[list[str]]
    """Metric columns measured from telemetry (speed): shown as speed, not quality."""
    main_metric: NotRequired[str | None]
    """The column that decides between runs (the task's ``main_metric``, else the first)."""
    metrics: NotRequired[dict[str, Any]]
    """The evaluation's ``metrics.json`` (``metrics``, ``ci``, ``versions``...), {} if none."""


class ReportWriter(Protocol):
    """A report kind (entry-point group ``vlmhyperbench.reports``)."""

    def __call__(self, out: Path, runs: list[RunEntry], workdir: Path) -> None: ...


class RunNotFound(ValueError):
    """A run or experiment name that no report in the work dir recorded."""


def run_label(run: dict[str, Any]) -> str:
    return f"{run['model']}/{run['dataset']}/{run['prompt']}"


def runs_index(workdir: Path) -> list[dict[str, Any]]:
    """Every evaluated run recorded by a report in the work dir, newest report last."""
    found = []
    index_files = Workdir(workdir).stage_root("report").glob(f"*/{RUNS_INDEX_FILE}")
    reports = sorted(index_files, key=lambda p: p.stat().st_mtime)
    for path in reports:
        for run in read_json(path):
            if run.get("eval_id") and run.get("model"):
                found.append({**run, "experiment": path.parent.name})
    return found


def select_runs(index: list[dict[str, Any]], ref: str) -> list[dict[str, Any]]:
    """``model/dataset/prompt`` (a glob) or an experiment name -> its latest runs."""
    latest: dict[str, dict[str, Any]] = {}
    if ref.count("/") == 2:
        for run in index:
            if fnmatch.fnmatchcase(run_label(run), ref):
                latest[run_label(run)] = run
    else:
        for run in index:
            if run["experiment"] == ref:
                latest[run_label(run)] = run
    if not latest:
        known = sorted({run_label(r) for r in index} | {r["experiment"] for r in index})
        raise RunNotFound(
            f"no run or experiment {ref!r} in the work dir (expected model/dataset/prompt or an "
            f"experiment name; known: {', '.join(known) or 'none'})"
        )
    return list(latest.values())
