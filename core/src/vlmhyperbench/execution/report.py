"""Report stage: hands the runs' results to the report kinds the experiment lists
(``vlmhb-reports`` writes the leaderboard and report.html; other packages add kinds)."""

from __future__ import annotations

from typing import Any

from vlmhb_reports import RunEntry
from vlmhb_reports import write_reports as write_report_kinds

from ..workdir import Workdir
from .stages import ReportStage, RunResult


def run_entry(result: RunResult) -> RunEntry:
    """What a report writer knows of a run (``runs.json`` keeps all of it but ``metrics``)."""
    run = result.run
    return {
        "run": run.name,
        "model": run.model.name,
        "dataset": run.dataset.name,
        "prompt": run.prompt.name,
        "task": run.task.name,
        "infer_id": result.infer_id,
        "eval_id": result.eval_id,
        "error": result.error,
        "complete": result.complete,
        "metric_versions": result.metrics.get("versions", {}),
        "telemetry_metrics": [m.column for m in run.metrics if m.inputs == "telemetry"],
        "main_metric": main_metric(result),
        "metrics": result.metrics,
    }


def main_metric(result: RunResult) -> str | None:
    """The run's deciding column: its task's ``main_metric`` when the run computes it, else
    the first quality metric it lists (telemetry metrics are speed, never the main one)."""
    run = result.run
    quality = [m for m in run.metrics if m.inputs != "telemetry"]
    declared = [m.column for m in quality if m.name == run.task.main_metric]
    return (declared or [m.column for m in quality] or [None])[0]


def write_reports(
    stage: ReportStage, results: list[RunResult], layout: Workdir
) -> tuple[list[str], list[dict[str, Any]]]:
    """The experiment's reports, plus ``runs.json``; returns the leaderboard (columns, rows)."""
    return write_report_kinds(
        layout.report_dir(stage.experiment.name),
        [run_entry(r) for r in results],
        layout.root,
        [report.kind for report in stage.reports],
    )
