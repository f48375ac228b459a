"""Every Plotly figure of an experiment, built in one place from the work dir's files.

``report.html`` embeds these figures and the management server sends the same objects as
``fig.to_plotly_json()``, so a chart looks the same in the static report and the dashboard.
Inputs are the leaderboard rows (``execution.report.leaderboard_rows`` or ``leaderboard.csv``)
and, per run, the files its stages wrote (see ``workdir.py``)::

    runs/<infer_id>/{run.json, answers.jsonl}
    evals/<eval_id>/{per_sample.csv, metrics_<aggregator>.csv, metrics.json}
    datasets/<sync_id>/samples.jsonl

Everything is read by :func:`load_run` (or :func:`load_experiment` for a finished report) into
a :class:`RunData`; the builders only look at that, never at files. A missing file gives an
empty part (a run that failed before its evaluation still has a leaderboard row); a file that
is there but unreadable raises :class:`FigureDataError` naming the file and the line.
"""

from __future__ import annotations

import csv
import json
import math
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from .execution.report import BASE_COLUMNS, TAIL_COLUMNS

__all__ = [
    "FigureDataError",
    "FigureSpec",
    "RunData",
    "build_figures",
    "doc_type_figure",
    "field_scores_figure",
    "higher_is_better",
    "latency_figure",
    "leaderboard_figure",
    "load_experiment",
    "load_run",
    "main_metric",
    "quality_latency_figure",
    "run_label",
    "wrap_label",
]

CI_LOW, CI_HIGH = "_ci_low", "_ci_high"
_LOWER_IS_BETTER = re.compile(r"(^|_)(cer|wer|ter|error|errors|latency|distance|loss)($|_)", re.I)
#: Columns of per_sample.csv that are not scores.
_SAMPLE_KEYS = ("id", "doc_class", "question_type", "parse_status", "answer")
#: Leaderboard columns that are not quality scores (who, speed, memory, counts): the
#: report's own lists, so a renamed column is renamed here too.
_NOT_QUALITY = {*BASE_COLUMNS, *TAIL_COLUMNS}
LATENCY_COLUMN = "latency_p50_s"
#: Aggregators whose tables are shown per run (``metrics_<name>.csv``).
BREAKDOWNS = ("by_doc_type", "by_doc_question")


class FigureDataError(ValueError):
    """A work dir file that exists but cannot be read as its stage wrote it."""


@dataclass
class RunData:
    """One run's leaderboard row and the per-sample files behind it."""

    row: dict[str, Any]
    quality: list[str] = field(default_factory=list)
    """The run's quality columns, in leaderboard order (the first is its main metric)."""
    higher: dict[str, bool] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    per_sample: list[dict[str, Any]] = field(default_factory=list)
    breakdowns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    """runs/<id>/run.json: what the run asked for (filters, limit, generation, prompt)."""
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.row.get("run", ""))

    @property
    def task(self) -> str:
        return str(self.row.get("task", ""))


@dataclass
class FigureSpec:
    """A named figure: ``name`` is stable (URLs, anchors), ``title`` is for people."""

    name: str
    title: str
    figure: go.Figure
    task: str | None = None


# --------------------------------------------------------------------------- loading


def _number(value: Any) -> Any:
    """CSV cells back to numbers; empty cells (NaN when written) to None."""
    if value is None or isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else value
    text = str(value).strip()
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return value
    if math.isnan(number):
        return None
    return int(number) if re.fullmatch(r"-?\d+", text) else number


def _read_csv(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [
                {k: (_number(v) if k not in ("id", "answer") else v) for k, v in row.items()}
                for row in csv.DictReader(handle)
            ]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FigureDataError(f"{path}: not a readable CSV: {exc}") from exc


def _read_jsonl(path: Path, key: str = "id") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return found
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if not line.endswith("\n"):
                    break  # a half-written last line of an interrupted run
                raise FigureDataError(f"{path}:{number}: not JSON: {exc.msg}") from exc
            if not isinstance(record, dict) or key not in record:
                raise FigureDataError(f"{path}:{number}: expected an object with {key!r}")
            found[str(record[key])] = record
    return found


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FigureDataError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise FigureDataError(f"{path}: expected a JSON object")
    return data


def higher_is_better(metric: str, declared: dict[str, bool] | None = None) -> bool:
    """The metric's direction: as its registry entry declared it, else guessed by name."""
    if declared and metric in declared:
        return bool(declared[metric])
    return not _LOWER_IS_BETTER.search(metric)


def quality_of(columns: Iterable[str]) -> list[str]:
    """Quality columns of a leaderboard (no CI bounds, no who/speed/memory/counts)."""
    return [
        c
        for c in columns
        if c not in _NOT_QUALITY and not c.startswith("_") and not c.endswith((CI_LOW, CI_HIGH))
    ]


def load_run(
    row: dict[str, Any],
    workdir: Path,
    infer_id: str | None,
    eval_id: str | None,
    columns: Iterable[str] | None = None,
) -> RunData:
    """One run's data from the work dir; ``row`` is its leaderboard row."""
    workdir = Path(workdir)
    run_dir = workdir / "runs" / str(infer_id) if infer_id else None
    eval_dir = workdir / "evals" / str(eval_id) if eval_id else None
    config = _read_json(run_dir / "run.json") if run_dir else {}
    answers = _read_jsonl(run_dir / "answers.jsonl") if run_dir else {}
    sync_id = config.get("sync_id")
    samples = _read_jsonl(workdir / "datasets" / str(sync_id) / "samples.jsonl") if sync_id else {}
    summary = _read_json(eval_dir / "metrics.json") if eval_dir else {}
    quality = [c for c in quality_of(columns or row) if row.get(c) is not None]
    latencies = row.get("_latencies")
    if latencies is None:
        latencies = sorted(
            float(a["latency_s"])
            for a in answers.values()
            if isinstance(a.get("latency_s"), (int, float))
        )
    return RunData(
        row=row,
        quality=quality,
        higher={k: bool(v) for k, v in (summary.get("higher_is_better") or {}).items()},
        latencies=list(latencies),
        per_sample=_read_csv(eval_dir / "per_sample.csv") if eval_dir else [],
        breakdowns={
            name: _read_csv(eval_dir / f"metrics_{name}.csv") if eval_dir else []
            for name in BREAKDOWNS
        },
        config=config,
        samples=samples,
        answers=answers,
    )


def load_experiment(workdir: Path, experiment: str) -> tuple[list[str], list[RunData]]:
    """A finished experiment's report (``reports/<name>/{runs.json,leaderboard.csv}``)."""
    folder = Path(workdir) / "reports" / experiment
    runs_file, board_file = folder / "runs.json", folder / "leaderboard.csv"
    if not runs_file.is_file():
        raise FigureDataError(f"{runs_file}: missing; run the experiment's report stage first")
    try:
        runs = json.loads(runs_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FigureDataError(f"{runs_file}:{exc.lineno}: not JSON: {exc.msg}") from exc
    rows = {str(r.get("run")): r for r in _read_csv(board_file)}
    columns: list[str] = []
    if board_file.is_file():
        with board_file.open(encoding="utf-8", newline="") as handle:
            columns = next(csv.reader(handle), [])
    loaded = []
    for i, entry in enumerate(runs):
        if not isinstance(entry, dict) or "run" not in entry:
            raise FigureDataError(f"{runs_file}: entry {i}: expected an object with 'run'")
        row = rows.get(str(entry["run"])) or {
            k: entry.get(k) for k in ("run", "model", "dataset", "task", "prompt")
        }
        loaded.append(
            load_run(row, Path(workdir), entry.get("infer_id"), entry.get("eval_id"), columns)
        )
    return columns, loaded


# --------------------------------------------------------------------------- helpers


def wrap_label(text: str, width: int = 18) -> str:
    """A tick or legend label over several lines (``<br>``), so none is cut or overlaps."""
    lines = textwrap.wrap(str(text), width=width, break_long_words=True) or [""]
    return "<br>".join(lines)


def run_label(run: RunData, with_task: bool = False) -> str:
    row = run.row
    label = f"{row.get('model')} / {row.get('prompt')}"
    return f"{label} / {row.get('task')}" if with_task else label


def main_metric(run: RunData) -> str | None:
    return run.quality[0] if run.quality else None


def _tasks(runs: list[RunData]) -> list[str]:
    return list(dict.fromkeys(r.task for r in runs))


def _task_metric(runs: list[RunData]) -> str | None:
    """The main metric a task's runs share (the first of the first run that all have)."""
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


def _field_matrix(runs: list[RunData]) -> tuple[str, list[str], list[list[float | None]]] | None:
    """(what z is, fields, z[field][run]) from field_* columns, else by_doc_question."""
    fields = list(
        dict.fromkeys(
            k for r in runs for row in r.per_sample[:1] for k in row if k.startswith("field_")
        )
    )
    if fields:
        z = []
        for name in fields:
            line = []
            for run in runs:
                values = [_finite(s.get(name)) for s in run.per_sample]
                values = [v for v in values if v is not None]
                line.append(sum(values) / len(values) if values else None)
            z.append(line)
        return "mean per-field score", [f.removeprefix("field_") for f in fields], z
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


def field_scores_figure(runs: list[RunData], task: str) -> go.Figure | None:
    """Per-field scores of a task's runs (fields down, runs across); None without fields."""
    runs = [r for r in runs if r.task == task]
    found = _field_matrix(runs)
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
    return _finish(
        fig,
        f"Per-field scores — task {task} ({what})",
        height=max(360, 140 + 26 * len(fields)),
    )


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
    if any(r.quality and _finite(r.row.get(LATENCY_COLUMN)) is not None for r in runs):
        specs.append(
            FigureSpec(
                "quality-vs-latency", "Quality against latency", quality_latency_figure(runs)
            )
        )
    if any(r.latencies for r in runs):
        specs.append(FigureSpec("latency", "Latency per sample", latency_figure(runs)))
    return specs
