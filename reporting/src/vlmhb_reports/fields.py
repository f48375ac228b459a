"""Per-field results of key-information extraction runs: which fields a model reads, and how
often it leaves one out.

The eval stage writes ``metrics.json["per_field"]`` = ``{field: {metric column: {"value",
"ci", "n"}}}`` for the metrics that score each field (field exact match, ANLS, precision,
recall, F1, omission rate, ANLS*). The leaderboard, report.html and the management server all
read it through these helpers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PerField = Mapping[str, Mapping[str, Mapping[str, Any]]]
OMISSION_METRIC = "field_omission_rate"
"""The per-field column that says how often a model leaves a field out."""
FIELD_COLUMNS = ["run", "model", "dataset", "prompt", "task", "field", "metric", "value"]
FIELD_COLUMNS += ["ci_low", "ci_high", "n"]


def field_metrics(per_field: PerField, order: Iterable[str] = ()) -> list[str]:
    """The metric columns scored per field, in ``order`` (leaderboard order) first."""
    found = list(dict.fromkeys(m for scores in per_field.values() for m in scores))
    ordered = [m for m in order if m in found]
    return ordered + [m for m in found if m not in ordered]


def deciding_field_metric(
    per_fields: Iterable[PerField], main: str | None, order: Iterable[str] = ()
) -> str | None:
    """The metric a per-field comparison shows: the task's main metric when it is scored per
    field, else the first per-field quality metric that is not the omission rate."""
    found: list[str] = []
    for per_field in per_fields:
        found += [m for m in field_metrics(per_field, order) if m not in found]
    if main in found:
        return main
    return next((m for m in found if m != OMISSION_METRIC), found[0] if found else None)


def field_rows(per_field: PerField, order: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One row per (field, metric): value, CI bounds and the number of samples behind it."""
    metrics = field_metrics(per_field, order)
    rows = []
    for name in sorted(per_field):
        for metric in metrics:
            cell = per_field[name].get(metric)
            if cell is None:
                continue
            ci = cell.get("ci") or [None, None]
            rows.append(
                {
                    "field": name,
                    "metric": metric,
                    "value": _round(cell.get("value")),
                    "ci_low": _round(ci[0]),
                    "ci_high": _round(ci[1]),
                    "n": cell.get("n"),
                }
            )
    return rows


def field_table(per_field: PerField, order: Iterable[str] = ()) -> tuple[list[str], list[list]]:
    """(metric columns, one row per field: [field, (value, low, high) per metric])."""
    metrics = field_metrics(per_field, order)
    body = []
    for name in sorted(per_field):
        cells: list[Any] = [name]
        for metric in metrics:
            cell = per_field[name].get(metric) or {}
            ci = cell.get("ci") or [None, None]
            cells.append((cell.get("value"), ci[0], ci[1]))
        body.append(cells)
    return metrics, body


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value
