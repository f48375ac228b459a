"""The sample explorer: pages of samples, their filter choices, one sample in every run, and
the sample's image (served only from its dataset's own folder or the work dir's data)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from .. import core_bridge, limits, sample_views
from .. import samples as sample_pages
from ..db import Experiment, RunRow, SampleRow
from ..services import Svc
from .params import MAX_PAGE, ExperimentId, RowId, not_found

router = APIRouter()


@router.get("/api/experiments/{experiment_id}/samples")
async def samples(
    experiment_id: ExperimentId,
    request: Request,
    s: Svc,
    run: str | None = None,
    q: str | None = None,
    sort: str = "id",
    order: str = Query("asc", pattern="^(asc|desc)$"),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=limits.MAX_OFFSET),
) -> Response:
    try:
        query = sample_pages.Query.from_params(request.query_params, run, q, sort, order)
    except sample_pages.BadQuery as exc:
        raise HTTPException(422, str(exc)) from exc
    try:
        # bytes made by the service: FastAPI's encoder pass would only cost time
        body = await s.samples.body(experiment_id, query, limit, offset)
    except sample_pages.NotFound as exc:
        raise not_found(experiment_id) from exc
    return Response(body, media_type="application/json")


@router.get("/api/experiments/{experiment_id}/samples/facets")
async def sample_facets(experiment_id: ExperimentId, s: Svc) -> dict[str, list[str]]:
    """The explorer's filter choices: runs, doc classes, question types, score names."""
    try:
        return await s.facets.of(experiment_id)
    except sample_pages.NotFound as exc:
        raise not_found(experiment_id) from exc


@router.get("/api/experiments/{experiment_id}/samples/{row_id}/answers")
async def sample_answers(experiment_id: ExperimentId, row_id: RowId, s: Svc) -> Response:
    """This row's sample in every run of the experiment, with a per-field table each
    (``fields``) when the reference is a JSON object."""
    try:
        rows = await sample_views.same_sample(s.database.engine, experiment_id, row_id)
    except sample_pages.NotFound as exc:
        raise HTTPException(404, f"no sample {row_id} in experiment {experiment_id}") from exc
    # on a thread: the per-field scores run the structured metrics (imported on first use)
    body = await asyncio.to_thread(sample_views.render_answers, experiment_id, rows)
    return Response(body, media_type="application/json")


@router.get("/api/experiments/{experiment_id}/samples/{row_id}/image")
async def image(
    experiment_id: ExperimentId, row_id: RowId, s: Svc, i: int = Query(0, ge=0, le=1000)
) -> FileResponse:
    async with s.database.session() as session:
        row = await session.get(SampleRow, row_id)
        exp = await session.get(Experiment, experiment_id)
        run = (
            await session.execute(
                select(RunRow).where(
                    RunRow.experiment_id == experiment_id,
                    RunRow.run == (row.run if row else ""),
                )
            )
        ).scalar_one_or_none()
    if row is None or exp is None or row.experiment_id != experiment_id:
        raise HTTPException(404, f"no sample {row_id} in experiment {experiment_id}")
    images = (row.meta or {}).get("images") or ([row.image_path] if row.image_path else [])
    if i >= len(images):
        raise HTTPException(404, f"sample {row.sample_id} has {len(images)} image(s), not {i + 1}")
    workdir = Path((exp.spec or {}).get("_workdir") or s.settings.workdir)
    roots = core_bridge.data_roots(workdir)
    if run is not None and (run.extra or {}).get("data_root"):
        roots.append(Path(run.extra["data_root"]))
    path = limits.servable_image(Path(images[i]), roots, forbidden=[s.settings.server_dir])
    if path is None:
        raise HTTPException(
            403, f"image of sample {row.sample_id} is not an image file in its dataset's folder"
        )
    if not path.is_file():
        raise HTTPException(404, f"image of sample {row.sample_id} is missing: {path.name}")
    return FileResponse(path)
