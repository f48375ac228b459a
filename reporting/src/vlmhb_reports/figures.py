"""Every Plotly figure of an experiment, built in one place from :class:`RunData`.

``report.html`` embeds these figures and the management server sends the same objects as
``fig.to_plotly_json()``, so a chart looks the same in the static report and the dashboard.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from .columns import CI_SUFFIXES, LATENCY_COLUMN, higher_is_better
from .fields import OMISSION_METRIC, deciding_field_metric
from .rundata import RunData

CI_LOW, CI_HIGH = CI_SUFFIXES


@dataclass
@dataclass
class FigureSpec:
    """A named figure: ``name`` is stable (URLs, anchors), ``title`` is for people."""

    name: str
    title: str
    figure: go.Figure
    task: str | None = None


def wrap_label(text: str, width: int = 18) -> str:
    """A tick or legend label over several lines (``<br>``), so none is cut or overlaps."""
    lines = textwrap.wrap(str(text), width=width, break_long_words=True) or [""]
    return "<br>".join(lines)


def run_label(run: RunData, with_task: bool = False) -> str:
    row = run.row
    label = f"{row.get('model')} / {row.get('prompt')}"
    return f"{label} / {row.get('task')}" if with_task else label


def main_metric(run: RunData) -> str | None:
    """The run's deciding metric: its task's declared ``main_metric``, else the first."""
    if run.main is not None:
        return run.main
    return run.quality[0] if run.quality else None


def _tasks(runs: list[RunData]) -> list[str]:
    return list(dict.fromkeys(r.task for r in runs))


def _task_metric(runs: list[RunData]) -> str | None:
    """The main metric a task's runs share: the declared one, else the first of the first
    run's metrics that all of them have."""
    declared = main_metric(runs[0]) if runs else None
    if declared is not None and all(declared in r.quality for r in runs):
        return declared
    for metric in runs[0].quality if runs else []:
        if all(metric in r.quality for r in runs):
            return metric
    return main_metric(runs[0]) if runs else None


def _finish(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    """One look for every figure, with margins that grow to fit every label."""
    fig.update_layout(
        title={"text": title, "automargin": True, "x": 0, "xanchor": "left"},
        template="plotly_white",
        margin={"l": 60, "r": 30, "t": 70, "b": 60},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0, "xanchor": "left"},
        font={"size": 12},
    )
    if height:
        fig.update_layout(height=height)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


# --------------------------------------------------------------------------- figures


def leaderboard_figure(runs: list[RunData], task: str) -> go.Figure:
    """Grouped bars per task: each quality metric, one bar per run, 95% CI as error bars."""
    runs = [r for r in runs if r.task == task]
    metrics = list(dict.fromkeys(m for r in runs for m in r.quality))
    fig = go.Figure()
    for run in runs:
        values = [_finite(run.row.get(m)) for m in metrics]
        plus, minus, has_ci = [], [], False
        for metric, value in zip(metrics, values, strict=True):
            low = _finite(run.row.get(metric + CI_LOW))
            high = _finite(run.row.get(metric + CI_HIGH))
            if value is None or low is None or high is None:
                plus.append(0.0)
                minus.append(0.0)
                continue
            has_ci = True
            plus.append(max(0.0, high - value))
            minus.append(max(0.0, value - low))
        error = (
            {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}
            if has_ci
            else None
        )
        fig.add_bar(
            name=wrap_label(run_label(run), 40),
            x=[wrap_label(m, 14) for m in metrics],
            y=values,
            error_y=error,
            hovertemplate="%{x}: %{y:.4g}<extra>" + run_label(run) + "</extra>",
        )
    directions = ", ".join(
        f"{m} {'↑' if higher_is_better(m, runs[0].higher if runs else None) else '↓'}"
        for m in metrics
    )
    fig.update_layout(barmode="group", yaxis_title="score", xaxis_title=directions)
    return _finish(fig, f"Leaderboard — task {task} (error bars: 95% CI)")


def quality_latency_figure(runs: list[RunData]) -> go.Figure:
    """Each run's main metric against its p50 latency, one trace per task."""
    fig = go.Figure()
    for task in _tasks(runs):
        members = [r for r in runs if r.task == task]
        metric = _task_metric(members)
        points = [
            (r, _finite(r.row.get(metric)), _finite(r.row.get(LATENCY_COLUMN)))
            for r in members
            if metric
        ]
        points = [p for p in points if p[1] is not None and p[2] is not None]
        if not points:
            continue
        fig.add_scatter(
            name=wrap_label(f"{task} ({metric})", 40),
            x=[p[2] for p in points],
            y=[p[1] for p in points],
            mode="markers+text",
            marker={"size": 11},
            text=[wrap_label(run_label(p[0]), 22) for p in points],
            textposition="top center",
            cliponaxis=False,
            hovertemplate="%{text}<br>p50 %{x:.3g} s, %{y:.4g}<extra>" + task + "</extra>",
        )
    fig.update_layout(
        xaxis_title="p50 latency per sample (s)",
        yaxis_title="main metric of the task",
    )
    fig.update_xaxes(rangemode="tozero")
    return _finish(fig, "Quality against latency (main metric of each task vs p50 latency)")


def latency_figure(runs: list[RunData]) -> go.Figure:
    """Per-sample latency per run: the spread and the outliers a p50 hides."""
    fig = go.Figure()
    for run in runs:
        if run.latencies:
            fig.add_box(
                y=run.latencies,
                name=wrap_label(run_label(run, with_task=True), 16),
                boxpoints="outliers",
            )
    fig.update_layout(yaxis_title="seconds", showlegend=False)
    return _finish(fig, "Latency per sample (s)")


def _field_matrix(
    runs: list[RunData], metric: str | None = None
) -> tuple[str, list[str], list[list[float | None]]] | None:
    """(metric, fields, z[field][run]) from the runs' per-field scores (fields down, runs
    across), else the main metric by document and question when there are no fields."""
    per_fields = [r.per_field for r in runs if r.per_field]
    if per_fields:
        what = metric or deciding_field_metric(
            per_fields, _task_metric(runs), runs[0].quality if runs else ()
        )
        fields = sorted({f for r in runs for f, s in r.per_field.items() if what in s})
        if what is None or not fields:
            return None
        z = [
            [_finite((r.per_field.get(f, {}).get(what) or {}).get("value")) for r in runs]
            for f in fields
        ]
        return what, fields, z
    if metric is not None:
        return None
    metric = _task_metric(runs)
    if metric is None or not any(r.breakdowns.get("by_doc_question") for r in runs):
        return None
    cells: dict[tuple[str, str], dict[str, float | None]] = {}
    for run in runs:
        for row in run.breakdowns.get("by_doc_question", []):
            key = (str(row.get("doc_class") or "—"), str(row.get("question_type") or "—"))
            cells.setdefault(key, {})[run.name] = _finite(row.get(metric))
    keys = sorted(cells)
    if len(keys) < 2:
        return None
    labels = [f"{doc} · {question}" for doc, question in keys]
    return metric, labels, [[cells[k].get(r.name) for r in runs] for k in keys]


def field_scores_figure(
    runs: list[RunData], task: str, metric: str | None = None
) -> go.Figure | None:
    """Per-field scores of a task's runs: fields down, runs (model / prompt) across, one
    metric (the task's main metric when it is scored per field, or ``metric``); None
    without fields."""
    runs = [r for r in runs if r.task == task]
    found = _field_matrix(runs, metric)
    if found is None:
        return None
    what, fields, z = found
    higher = higher_is_better(what, runs[0].higher) if runs else True
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[wrap_label(run_label(r), 16) for r in runs],
            y=fields,
            colorscale="Viridis" if higher else "Viridis_r",
            colorbar={"title": {"text": wrap_label(what, 12)}},
            texttemplate="%{z:.2f}",
            hovertemplate="%{y}<br>%{x}: %{z:.4g}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed")
    title = (
        f"Fields left out — task {task} (share of samples where the model gave no value)"
        if what == OMISSION_METRIC
        else f"Per-field scores — task {task} ({what})"
    )
    return _finish(fig, title, height=max(360, 140 + 26 * len(fields)))


def doc_type_figure(runs: list[RunData], task: str) -> go.Figure | None:
    """The task's main metric per document type (metrics_by_doc_type.csv); None if one type."""
    runs = [r for r in runs if r.task == task]
    metric = _task_metric(runs)
    if metric is None:
        return None
    docs = sorted(
        {
            str(row.get("doc_class") or "—")
            for r in runs
            for row in r.breakdowns.get("by_doc_type", [])
        }
    )
    if len(docs) < 2:
        return None
    fig = go.Figure()
    for run in runs:
        values = {
            str(row.get("doc_class") or "—"): _finite(row.get(metric))
            for row in run.breakdowns.get("by_doc_type", [])
        }
        fig.add_bar(name=wrap_label(run_label(run), 40), x=docs, y=[values.get(d) for d in docs])
    direction = "↑ better" if higher_is_better(metric, runs[0].higher) else "↓ better"
    fig.update_layout(
        barmode="group", xaxis_title="document type", yaxis_title=f"{metric} ({direction})"
    )
    return _finish(fig, f"By document type — task {task} ({metric})")


def build_figures(runs: list[RunData]) -> list[FigureSpec]:
    """Every figure the experiment has data for, in reading order."""
    specs: list[FigureSpec] = []
    for task in _tasks(runs):
        members = [r for r in runs if r.task == task]
        if any(r.quality for r in members):
            specs.append(
                FigureSpec(
                    f"leaderboard-{task}",
                    f"Leaderboard — task {task}",
                    leaderboard_figure(runs, task),
                    task,
                )
            )
        figure = doc_type_figure(runs, task)
        if figure is not None:
            specs.append(
                FigureSpec(f"by-doc-type-{task}", f"By document type — {task}", figure, task)
            )
        figure = field_scores_figure(runs, task)
        if figure is not None:
            specs.append(
                FigureSpec(f"field-scores-{task}", f"Per-field scores — {task}", figure, task)
            )
        if any(OMISSION_METRIC in s for r in members for s in r.per_field.values()):
            figure = field_scores_figure(runs, task, OMISSION_METRIC)
            if figure is not None:
                specs.append(
                    FigureSpec(f"fields-left-out-{task}", f"Fields left out — {task}", figure, task)
                )
    if any(r.quality and _finite(r.row.get(LATENCY_COLUMN)) is not None for r in runs):
        specs.append(
            FigureSpec(
                "quality-vs-latency", "Quality against latency", quality_latency_figure(runs)
            )
        )
    if any(r.latencies for r in runs):
        specs.append(FigureSpec("latency", "Latency per sample", latency_figure(runs)))
    return specs
