"""An experiment's results: the leaderboard, its Plotly figures, and comparisons of runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import select
from vlmhb_reports import RunScores

from .. import comparison, figures, limits, run_rows
from ..db import Database, Experiment, SampleRow
from ..services import Db, Svc
from .experiments import experiment_or_404
from .params import ExperimentId

router = APIRouter()


@router.get("/api/experiments/{experiment_id}/leaderboard")
async def leaderboard(experiment_id: ExperimentId, db: Db) -> dict[str, Any]:
    await experiment_or_404(db, experiment_id)
    return {"rows": await run_rows.runs_of(db, experiment_id)}


@router.get("/api/experiments/{experiment_id}/figures")
async def figure_list(experiment_id: ExperimentId, db: Db) -> list[dict[str, str]]:
    await experiment_or_404(db, experiment_id)
    board = figures.Board(runs=await run_rows.runs_of(db, experiment_id))
    return [{"name": n, "title": t} for n, (t, _, _) in figures.catalogue(board).items()]


@router.get("/api/experiments/{experiment_id}/figures/{name}")
async def figure(experiment_id: ExperimentId, name: str, db: Db) -> Response:
    await experiment_or_404(db, experiment_id)
    board = figures.Board(runs=await run_rows.runs_of(db, experiment_id))
    found = figures.catalogue(board).get(name)
    if found is None:
        raise HTTPException(
            404,
            f"no figure {name!r}; expected one of {', '.join(figures.catalogue(board))}",
        )
    _, build, needs_samples = found
    if needs_samples:
        board.samples = await _figure_samples(db, experiment_id)
    fig = await asyncio.to_thread(build, board)
    return Response(fig.to_json(), media_type="application/json")


@router.get("/api/compare")
async def compare(
    s: Svc, a: str = Query(max_length=1000), b: str = Query(max_length=1000)
) -> dict[str, Any]:
    """Two experiments (every run they share) or two runs, by ``vlmhb compare``'s rule."""
    db = s.database
    left, right = await _side(db, a, "a"), await _side(db, b, "b")
    pairs: list[tuple[dict[str, Any], dict[str, Any]]]
    if len(left) == 1 and len(right) == 1:
        pairs = [(left[0], right[0])]
    else:
        by_key = {_key(r): r for r in right}
        pairs = [(r, by_key[_key(r)]) for r in left if _key(r) in by_key]
        if not pairs:
            raise HTTPException(
                422, f"{a} and {b} share no run (same model, dataset, prompt and task)"
            )
    workdirs = {
        i: await _workdir(db, i, s.settings.workdir)
        for i in {r["experiment_id"] for pair in pairs for r in pair}
    }
    samples, scores = [], []
    for ra, rb in pairs:
        sa = await _sample_scores(db, ra["experiment_id"], ra["run"])
        sb = await _sample_scores(db, rb["experiment_id"], rb["run"])
        samples.append((sa, sb))
        scores.append(
            (
                await asyncio.to_thread(_scores, workdirs[ra["experiment_id"]], ra, sa),
                await asyncio.to_thread(_scores, workdirs[rb["experiment_id"]], rb, sb),
            )
        )
    results = await asyncio.to_thread(comparison.compare_pairs, pairs, scores, samples)
    return {"a": a, "b": b, "runs": results}


def _scores(workdir: Path, row: dict[str, Any], samples: comparison.Samples) -> RunScores:
    """From the work dir's files where they are complete, else from the database."""
    found = comparison.scores_from_workdir(workdir, row)
    return found if found is not None else comparison.scores_from_database(row, samples)


async def _workdir(db: Database, experiment_id: int, default: Path) -> Path:
    """Where the experiment's stages wrote: an import's work dir, else the server's."""
    async with db.session() as session:
        exp = await session.get(Experiment, experiment_id)
    return Path(((exp.spec if exp else None) or {}).get("_workdir") or default)


async def _figure_samples(db: Database, experiment_id: int) -> list[tuple[Any, ...]]:
    async with db.session() as session:
        rows = await session.execute(
            select(
                SampleRow.run,
                SampleRow.doc_class,
                SampleRow.latency_s,
                SampleRow.scores,
                SampleRow.answer,
                SampleRow.meta,
            ).where(SampleRow.experiment_id == experiment_id)
        )
        return [tuple(r) for r in rows]


async def _sample_scores(db: Database, experiment_id: int, run: str) -> comparison.Samples:
    async with db.session() as session:
        rows = await session.execute(
            select(SampleRow.sample_id, SampleRow.answer, SampleRow.scores).where(
                SampleRow.experiment_id == experiment_id, SampleRow.run == run
            )
        )
        return {sid: {"answer": answer, "scores": scores or {}} for sid, answer, scores in rows}


def _key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    return (row["model"], row["dataset"], row["prompt"], row["task"])


async def _side(db: Database, ref: str, label: str) -> list[dict[str, Any]]:
    """``ref``: an experiment id, or ``<id>:<run>`` (run name or model/dataset/prompt)."""
    head, _, run = ref.partition(":")
    try:
        experiment_id = int(head)
    except ValueError as exc:
        raise HTTPException(
            422, f"{label}: expected an experiment id or <id>:<run>, got {ref!r}"
        ) from exc
    if not 1 <= experiment_id <= limits.MAX_INT:
        raise HTTPException(
            422, f"{label}: expected an experiment id from 1 to {limits.MAX_INT}, got {head}"
        )
    rows = await run_rows.runs_of(db, experiment_id)
    if not rows:
        raise HTTPException(404, f"{label}: experiment {experiment_id} has no results")
    if not run:
        return rows
    chosen = [r for r in rows if run in (r["run"], f"{r['model']}/{r['dataset']}/{r['prompt']}")]
    if not chosen:
        raise HTTPException(
            404,
            f"{label}: no run {run!r} in experiment {experiment_id} (has: "
            f"{', '.join(r['run'] for r in rows)})",
        )
    return chosen
