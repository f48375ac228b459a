"""Experiments: submit, list, read, cancel and resume (the queue is the supervisor's)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import func, select

from .. import core_bridge, limits, run_rows, search, store
from ..db import Database, Experiment
from ..services import Db, Svc, Who
from ..submission import read_spec
from ..supervisor import StateError
from .params import MAX_PAGE, ExperimentId, not_found

router = APIRouter()


async def experiment_or_404(db: Database, experiment_id: int) -> Experiment:
    """The experiment, or the 404 every route under ``/api/experiments/{id}`` answers."""
    async with db.session() as session:
        exp = await session.get(Experiment, experiment_id)
    if exp is None:
        raise not_found(experiment_id)
    return exp


@router.post("/api/experiments", status_code=201)
async def submit(request: Request, s: Svc, by: Who) -> dict[str, Any]:
    spec = await read_spec(request)
    try:
        prepared = await asyncio.to_thread(
            core_bridge.prepare,
            spec,
            s.settings.registries,
            s.settings.mode,
            s.settings.server_dir / "specs",
            limits.Policy.of(s.settings),
        )
    except core_bridge.InputError as exc:
        raise HTTPException(
            422, {"message": "the experiment cannot be run", "problems": exc.problems}
        ) from exc
    stages = {st["id"]: {**st, "state": "planned"} for st in prepared.stages}
    async with s.database.session() as session:
        exp = Experiment(
            name=prepared.name,
            status="queued",
            spec=spec,
            source="api",
            stages=stages,
            attempts=0,
            cancel_requested=0,
            created_at=time.time(),
            launched_by=by,
        )
        session.add(exp)
        await session.commit()
    s.supervisor.kick()
    return {"id": exp.id, "name": exp.name, "status": exp.status}


@router.get("/api/experiments")
async def list_experiments(
    db: Db,
    status: str | None = None,
    name: str | None = None,
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=limits.MAX_OFFSET),
) -> dict[str, Any]:
    where = []
    if status:
        where.append(Experiment.status.in_(status.split(",")))
    if name:  # a substring, taken literally: % and _ are characters
        where.append(Experiment.name.ilike(f"%{search.literal(name)}%", escape="\\"))
    async with db.session() as session:
        total = (
            await session.execute(select(func.count()).select_from(Experiment).where(*where))
        ).scalar_one()
        rows = (
            await session.execute(
                select(Experiment)
                .where(*where)
                .order_by(Experiment.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).scalars()
        items = [store.experiment_json(e, stages=False) for e in rows]
        best = await run_rows.best_per_task(session, [i["id"] for i in items])
    for item in items:
        item["best"] = best.get(item["id"], {})
    return {"total": total, "items": items}


@router.get("/api/experiments/{experiment_id}")
async def get_experiment(experiment_id: ExperimentId, db: Db) -> dict[str, Any]:
    return store.experiment_json(await experiment_or_404(db, experiment_id))


@router.post("/api/experiments/{experiment_id}/cancel")
async def cancel(experiment_id: ExperimentId, s: Svc, by: Who) -> dict[str, Any]:
    try:
        state = await s.supervisor.cancel(experiment_id, by=by)
    except KeyError as exc:
        raise not_found(experiment_id) from exc
    except StateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"id": experiment_id, "status": state}


@router.post("/api/experiments/{experiment_id}/resume")
async def resume(experiment_id: ExperimentId, s: Svc, by: Who) -> dict[str, Any]:
    try:
        await s.supervisor.resume(experiment_id, by=by)
    except KeyError as exc:
        raise not_found(experiment_id) from exc
    except StateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"id": experiment_id, "status": "queued"}
