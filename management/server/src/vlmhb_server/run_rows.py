"""Leaderboard rows as the API returns them, read from the ``runs`` table.

One place says what a row holds, for the leaderboard, the figures, the experiment list's
``best`` and ``/api/compare``. A metric's direction is what its registry entry declared (the
evaluation's ``metrics.json``, kept in the row at import as ``higher_is_better``); a metric an
older evaluation did not declare counts as higher-is-better, as in ``vlmhb compare``. Nothing
guesses it from the metric's name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import figures
from .db import Database, RunRow


def directions(metrics: dict[str, Any], declared: dict[str, Any] | None) -> dict[str, bool]:
    """Every metric of a row (and every declared one: per-field metrics) -> higher is better."""
    declared = declared or {}
    return {m: bool(declared.get(m, True)) for m in dict.fromkeys([*metrics, *declared])}


def run_json(row: RunRow) -> dict[str, Any]:
    """One leaderboard row: the run's identity, metrics, their directions and what the
    evaluation added (CIs, per-field scores, main metric, ...); never the data folder."""
    extra = dict(row.extra or {})
    extra.pop("data_root", None)
    metrics = row.metrics or {}
    return {
        "experiment_id": row.experiment_id,
        "run": row.run,
        "model": row.model,
        "dataset": row.dataset,
        "prompt": row.prompt,
        "task": row.task,
        "output_kind": row.output_kind,
        "metrics": metrics,
        **extra,
        "higher_is_better": directions(metrics, extra.get("higher_is_better")),
    }


async def runs_of(db: Database, experiment_id: int) -> list[dict[str, Any]]:
    """The experiment's leaderboard rows, in the order they were stored."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(RunRow).where(RunRow.experiment_id == experiment_id).order_by(RunRow.id)
            )
        ).scalars()
        return [run_json(r) for r in rows]


async def best_per_task(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, Any]]:
    """experiment id -> task -> the best run by the task's main metric (its direction)."""
    if not ids:
        return {}
    rows = (await session.execute(select(RunRow).where(RunRow.experiment_id.in_(ids)))).scalars()
    best: dict[int, dict[str, Any]] = {}
    for row in rows:
        board = run_json(row)
        metric = figures.main_metric(board)
        value = board["metrics"].get(metric) if metric else None
        if not isinstance(value, int | float):
            continue
        tasks = best.setdefault(row.experiment_id, {})
        current = tasks.get(row.task)
        better = board["higher_is_better"][metric]
        if current is None or (value > current["value"] if better else value < current["value"]):
            tasks[row.task] = {
                "metric": metric,
                "value": value,
                "model": row.model,
                "prompt": row.prompt,
            }
    return best
