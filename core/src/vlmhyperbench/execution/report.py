"""Report stage: a leaderboard across runs (CSV, Markdown) and Plotly figures (HTML)."""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..workdir import Workdir, write_json
from .answers import read_answers
from .stages import ReportStage, RunResult

BASE_COLUMNS = ["run", "model", "dataset", "task", "prompt"]
SPEED_COLUMNS = ["latency_p50_s", "latency_p90_s", "samples_per_s", "output_tokens_per_s"]
MEMORY_COLUMNS = ["peak_rss_mb", "peak_vram_mb"]
TAIL_COLUMNS = [*SPEED_COLUMNS, *MEMORY_COLUMNS, "samples", "failed", "status"]
"""Leaderboard order: who, quality (a column per metric, with its CI), speed, memory, counts."""
CI_SUFFIXES = ("_ci_low", "_ci_high")


def quality_columns(columns: list[str]) -> list[str]:
    """The metric columns of a leaderboard, without their CI bounds."""
    return [
        c
        for c in columns
        if c not in BASE_COLUMNS and c not in TAIL_COLUMNS and not c.endswith(CI_SUFFIXES)
    ]


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _telemetry(answers_path: Path) -> dict[str, Any]:
    records = list(read_answers(answers_path).values()) if answers_path.exists() else []
    latencies = sorted(r.latency_s for r in records if r.latency_s is not None)
    starts = [r.started_at for r in records if r.started_at]
    ends = [r.finished_at for r in records if r.finished_at]
    span = (max(ends) - min(starts)) if starts and ends else 0.0
    answered = [r for r in records if r.parse_status != "failed"]
    tokens = sum(r.completion_tokens or 0 for r in answered)
    p50, p90 = _quantile(latencies, 0.5), _quantile(latencies, 0.9)
    return {
        "samples": len(records),
        "failed": len(records) - len(answered),
        "latency_p50_s": round(statistics.median(latencies), 4) if latencies else None,
        "latency_p90_s": round(p90, 4) if p90 is not None and p50 is not None else None,
        "samples_per_s": round(len(answered) / span, 3) if span > 0 else None,
        "output_tokens_per_s": round(tokens / span, 1) if span > 0 and tokens else None,
        "latencies": latencies,
    }


def _quality_columns(result: RunResult) -> list[str]:
    """Scores of the answers (speed metrics are the leaderboard's own speed columns)."""
    telemetry = {m.column for m in result.run.metrics if m.inputs == "telemetry"}
    return [c for c in result.metrics.get("metrics", {}) if c not in telemetry]


def leaderboard_rows(
    results: list[RunResult], workdir: Path
) -> tuple[list[str], list[dict[str, Any]]]:
    quality: list[str] = []
    rows = []
    for result in results:
        run = result.run
        row: dict[str, Any] = {
            "run": run.name,
            "model": run.model.name,
            "dataset": run.dataset.name,
            "task": run.task.name,
            "prompt": run.prompt.name,
        }
        scores = result.metrics.get("metrics", {})
        intervals = result.metrics.get("ci", {})
        for name in _quality_columns(result):
            value = scores[name]
            columns = [name]
            row[name] = round(value, 4) if isinstance(value, float) else value
            if name in intervals:
                low, high = intervals[name]
                row[f"{name}_ci_low"], row[f"{name}_ci_high"] = round(low, 4), round(high, 4)
                columns += [f"{name}_ci_low", f"{name}_ci_high"]
            quality += [c for c in columns if c not in quality]
        telemetry = _telemetry(workdir / "runs" / str(result.infer_id) / "answers.jsonl")
        row.update({k: v for k, v in telemetry.items() if k != "latencies"})
        peaks_path = workdir / "runs" / str(result.infer_id) / "telemetry.json"
        if peaks_path.exists():
            peaks = json.loads(peaks_path.read_text(encoding="utf-8"))
            for key in MEMORY_COLUMNS:
                row[key] = round(peaks[key], 1) if peaks.get(key) else None
        row["_latencies"] = telemetry["latencies"]
        if result.error is not None:
            row["status"] = "failed"
        elif row.get("failed"):
            row["status"] = f"partial ({row['failed']} failed)"
        else:
            row["status"] = "ok"
        rows.append(row)
    return [*BASE_COLUMNS, *quality, *TAIL_COLUMNS], rows


def _markdown(columns: list[str], rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _figures_html(columns: list[str], rows: list[dict[str, Any]], title: str) -> str:
    import plotly.graph_objects as go

    metric_names = [
        c
        for c in columns
        if c not in BASE_COLUMNS and c not in TAIL_COLUMNS and not c.endswith(CI_SUFFIXES)
    ]
    parts = [f"<h1>{title}</h1>"]
    first = True

    def add(fig: Any) -> None:
        nonlocal first
        parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if first else False))
        first = False

    for metric in metric_names:
        fig = go.Figure()
        prompts = sorted({r["prompt"] for r in rows if r.get(metric) is not None})
        for prompt in prompts:
            subset = [r for r in rows if r["prompt"] == prompt and r.get(metric) is not None]
            fig.add_bar(
                name=prompt,
                x=[f"{r['model']}<br>{r['dataset']}" for r in subset],
                y=[r[metric] for r in subset],
            )
        fig.update_layout(title=f"{metric} by model × prompt", barmode="group", yaxis_title=metric)
        add(fig)
    fig = go.Figure()
    for r in rows:
        if r["_latencies"]:
            fig.add_box(y=r["_latencies"], name=f"{r['model']} / {r['prompt']}")
    fig.update_layout(title="Latency per sample (s)", yaxis_title="seconds", showlegend=False)
    add(fig)
    if metric_names:
        quality = metric_names[0]
        fig = go.Figure()
        for r in rows:
            if r.get(quality) is not None and r.get("samples_per_s"):
                fig.add_scatter(
                    x=[r["samples_per_s"]],
                    y=[r[quality]],
                    mode="markers+text",
                    text=[f"{r['model']} / {r['prompt']}"],
                    textposition="top center",
                    name=r["run"],
                )
        fig.update_layout(
            title=f"Quality ({quality}) against speed",
            xaxis_title="samples/s",
            yaxis_title=quality,
            showlegend=False,
        )
        add(fig)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        + title
        + "</title></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def write_reports(
    stage: ReportStage, results: list[RunResult], workdir: Workdir
) -> tuple[list[str], list[dict[str, Any]]]:
    """The reports the experiment lists (``reports`` registry kind), plus ``runs.json``."""
    experiment = stage.experiment.name
    out = workdir.report_dir(experiment)
    out.mkdir(parents=True, exist_ok=True)
    columns, rows = leaderboard_rows(results, workdir.root)
    kinds = {report.kind for report in stage.reports}
    if "leaderboard" in kinds:
        tmp = out / "leaderboard.csv.tmp"
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(out / "leaderboard.csv")
        (out / "leaderboard.md").write_text(_markdown(columns, rows), encoding="utf-8")
    if "html" in kinds:
        (out / "report.html").write_text(
            _figures_html(columns, rows, f"VLMHyperBench — {experiment}"), encoding="utf-8"
        )
    if "v01" in kinds:
        from ..migration import v01_report  # noqa: F401 - registers the v01 writer

    for report in stage.reports:
        writer_for = EXTRA_REPORTS.get(report.kind)
        if writer_for is not None:
            writer_for(out, results, workdir)
    runs = [
        {
            "run": r.run.name,
            "model": r.run.model.name,
            "dataset": r.run.dataset.name,
            "prompt": r.run.prompt.name,
            "task": r.run.task.name,
            "infer_id": r.infer_id,
            "eval_id": r.eval_id,
            "error": r.error,
            "complete": r.complete,
            "metric_versions": r.metrics.get("versions", {}),
        }
        for r in results
    ]
    write_json(out / "runs.json", runs)
    return columns, rows


#: Report kinds written by other modules (e.g. ``v01``): kind -> f(report_dir, results, workdir).
EXTRA_REPORTS: dict[str, Callable[[Path, list[RunResult], Workdir], None]] = {}
