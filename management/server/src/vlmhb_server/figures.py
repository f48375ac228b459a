"""Plotly figures, built server-side so the dashboard only renders JSON (``data``, ``layout``).

Inputs are the experiment's leaderboard rows and (for distributions and breakdowns) its
samples; each builder returns a ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from vlmhb_reports import deciding_field_metric


@dataclass
class Board:
    """What figures need from the database, loaded once per request."""

    runs: list[dict[str, Any]]  # run, model, dataset, prompt, task, output_kind, metrics, extra
    samples: Sequence[tuple[str, str | None, float | None, dict[str, Any], str | None, dict]] = ()
    # (run, doc_class, latency_s, scores, answer, metadata)


def _label(run: dict[str, Any]) -> str:
    return f"{run['model']} / {run['prompt']}"


def main_metric(run: dict[str, Any]) -> str | None:
    """The run's deciding metric: its task's declared main metric (runs.json), else the
    first metric listed."""
    declared = run.get("main_metric")
    if declared and declared in (run.get("metrics") or {}):
        return declared
    return next(iter(run.get("metrics") or {}), None)


def tasks_of(board: Board) -> list[str]:
    return list(dict.fromkeys(r["task"] for r in board.runs))


def leaderboard(board: Board, task: str) -> go.Figure:
    fig = go.Figure()
    for run in (r for r in board.runs if r["task"] == task):
        metrics = {k: v for k, v in run["metrics"].items() if isinstance(v, int | float)}
        ci = run.get("ci") or {}
        error_y = None
        if ci:
            error_y = {
                "type": "data",
                "symmetric": False,
                "array": [
                    max(0.0, (ci.get(m, [None, None])[1] or v) - v) for m, v in metrics.items()
                ],
                "arrayminus": [
                    max(0.0, v - (ci.get(m, [None, None])[0] or v)) for m, v in metrics.items()
                ],
            }
        fig.add_bar(name=_label(run), x=list(metrics), y=list(metrics.values()), error_y=error_y)
    fig.update_layout(
        title=f"Leaderboard — task {task}",
        barmode="group",
        yaxis_title="score",
        legend_title="model / prompt",
    )
    return fig


def quality_vs_latency(board: Board) -> go.Figure:
    fig = go.Figure()
    for task in tasks_of(board):
        runs = [r for r in board.runs if r["task"] == task and main_metric(r)]
        points = [(r, r["metrics"][main_metric(r)], r.get("latency_p50_s")) for r in runs]
        points = [p for p in points if isinstance(p[1], int | float) and p[2] is not None]
        if not points:
            continue
        fig.add_scatter(
            name=f"{task} ({main_metric(points[0][0])})",
            x=[p[2] for p in points],
            y=[p[1] for p in points],
            mode="markers+text",
            text=[_label(p[0]) for p in points],
            textposition="top center",
        )
    fig.update_layout(
        title="Quality against latency (main metric of each task vs p50 latency)",
        xaxis_title="p50 latency per sample (s)",
        yaxis_title="main metric",
    )
    return fig


def latency_distribution(board: Board) -> go.Figure:
    by_run: dict[str, list[float]] = defaultdict(list)
    for run, _doc, latency, *_ in board.samples:
        if latency is not None:
            by_run[run].append(latency)
    fig = go.Figure()
    labels = {r["run"]: f"{_label(r)} / {r['task']}" for r in board.runs}
    for run, values in by_run.items():
        fig.add_box(y=values, name=labels.get(run, run), boxpoints=False)
    fig.update_layout(title="Latency per sample (s)", yaxis_title="seconds", showlegend=False)
    return fig


def by_doc_type(board: Board) -> go.Figure:
    mains = {r["run"]: main_metric(r) for r in board.runs}
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run, doc, _latency, scores, *_ in board.samples:
        metric = mains.get(run)
        value = scores.get(metric) if metric else None
        if isinstance(value, int | float):
            sums[(run, doc or "(none)")].append(float(value))
    fig = go.Figure()
    labels = {r["run"]: f"{_label(r)} / {r['task']} ({mains[r['run']]})" for r in board.runs}
    docs = sorted({doc for _, doc in sums})
    for run in dict.fromkeys(run for run, _ in sums):
        fig.add_bar(
            name=labels.get(run, run),
            x=docs,
            y=[
                sum(sums[(run, d)]) / len(sums[(run, d)]) if sums.get((run, d)) else None
                for d in docs
            ],
        )
    fig.update_layout(
        title="Main metric by document type",
        barmode="group",
        xaxis_title="document type",
        yaxis_title="mean per-sample score",
    )
    return fig


def _parsed(answer: str | None) -> dict[str, Any] | None:
    if not answer:
        return None
    text = answer.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold() if value is not None else ""


def field_scores(board: Board, task: str) -> go.Figure:
    """The evaluation's per-field scores of the task's main metric (fields down, runs
    across); for runs evaluated before per-field results, exact match per field."""
    runs = [r for r in board.runs if r["task"] == task]
    scored = [r.get("per_field") for r in runs if r.get("per_field")]
    if scored:
        metric = deciding_field_metric(scored, main_metric(runs[0]), runs[0].get("metrics") or ())
        fields = sorted({f for r in runs for f in (r.get("per_field") or {})})
        z = [
            [((r.get("per_field") or {}).get(f, {}).get(metric) or {}).get("value") for r in runs]
            for f in fields
        ]
        fig = go.Figure(
            go.Heatmap(
                z=z,
                x=[_label(r) for r in runs],
                y=fields,
                colorscale="Viridis",
                colorbar={"title": metric},
            )
        )
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(title=f"Per-field scores — task {task} ({metric})", yaxis_title="field")
        return fig
    names = {r["run"] for r in runs}
    hits: dict[tuple[str, str], list[int]] = defaultdict(list)
    for run, _doc, _latency, _scores, answer, meta in board.samples:
        reference = meta.get("fields") if run in names else None
        if not isinstance(reference, dict):
            continue
        got = _parsed(answer) or {}
        for key, expected in reference.items():
            hits[(run, key)].append(int(_norm(got.get(key)) == _norm(expected)))
    fields = sorted({key for _, key in hits})
    order = [r["run"] for r in runs]
    z = [
        [
            (sum(hits[(run, f)]) / len(hits[(run, f)])) if hits.get((run, f)) else None
            for f in fields
        ]
        for run in order
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=fields,
            y=[_label(r) for r in runs],
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            colorbar={"title": "exact match"},
        )
    )
    fig.update_layout(title=f"Per-field exact match — task {task}", xaxis_title="field")
    return fig


def catalogue(board: Board) -> dict[str, tuple[str, Callable[[Board], go.Figure], bool]]:
    """name -> (title, builder, needs samples)."""
    found: dict[str, tuple[str, Callable[[Board], go.Figure], bool]] = {}
    for task in tasks_of(board):
        found[f"leaderboard-{task}"] = (
            f"Leaderboard — task {task}",
            lambda b, t=task: leaderboard(b, t),
            False,
        )
    found["quality-vs-latency"] = ("Quality against latency", quality_vs_latency, False)
    found["latency-distribution"] = ("Latency per sample", latency_distribution, True)
    found["by-doc-type"] = ("Main metric by document type", by_doc_type, True)
    for task in tasks_of(board):
        if any(r["task"] == task and r.get("output_kind") == "json" for r in board.runs):
            found[f"field-scores-{task}"] = (
                f"Per-field scores — task {task}",
                lambda b, t=task: field_scores(b, t),
                True,
            )
    return found
