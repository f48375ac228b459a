"""Database operations shared by the server and its workers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import core_bridge
from .db import Database, EventRow, Experiment, RunRow, SampleRow

log = logging.getLogger("vlmhb_server")

FINISHED = "experiment_finished"


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


async def last_seq(session: AsyncSession, experiment_id: int) -> int:
    found = await session.execute(
        select(func.max(EventRow.seq)).where(EventRow.experiment_id == experiment_id)
    )
    return int(found.scalar() or 0)


async def append_events(
    session: AsyncSession, experiment_id: int, payloads: Sequence[dict[str, Any]]
) -> int:
    """Number and insert ``payloads`` after the experiment's last event; returns the last seq.

    One writer per experiment at a time (its worker while it runs, the server otherwise), and
    the unique (experiment, seq) constraint turns any overlap into an error, never a duplicate.
    """
    seq = await last_seq(session, experiment_id)
    rows = []
    for payload in payloads:
        seq += 1
        rows.append(
            {
                "experiment_id": experiment_id,
                "seq": seq,
                "type": str(payload.get("type", "")),
                "payload": payload,
            }
        )
    if rows:
        await session.execute(insert(EventRow), rows)
    return seq


def apply_event(stages: dict[str, Any], event: dict[str, Any]) -> None:
    """Fold one core event into the experiment's per-stage state (what GET shows)."""
    stage_id = event.get("stage_id")
    kind = event.get("type")
    if not stage_id or stage_id == "-" or kind in ("log", "resource_sample", FINISHED):
        if kind == "resource_sample" and stage_id in stages:
            stages[stage_id]["resources"] = event.get("metrics", {})
        return
    stage = stages.setdefault(
        stage_id,
        {"id": stage_id, "name": event.get("name"), "kind": event.get("stage_kind")},
    )
    if kind == "stage_planned":
        stage.setdefault("state", "planned")
        stage["deps"] = event.get("depends_on", [])
    elif kind == "stage_started":
        stage["state"] = "running"
        stage["started_at"] = event.get("ts")
    elif kind == "stage_skipped":
        stage["state"] = "skipped"
        stage["reason"] = event.get("reason")
    elif kind == "stage_progress":
        stage.update(done=event.get("done"), total=event.get("total"), failed=event.get("failed"))
    elif kind == "stage_finished":
        stage["state"] = "done"
        stage["finished_at"] = event.get("ts")
    elif kind == "stage_failed":
        stage["state"] = "failed"
        stage["error"] = event.get("error")


def progress(stages: dict[str, Any]) -> dict[str, Any]:
    values = list(stages.values())
    ended = [s for s in values if s.get("state") in ("done", "skipped", "failed")]
    infers = [s for s in values if s.get("kind") == "infer"]
    samples_total = sum(int(s.get("total") or 0) for s in infers)
    samples_done = sum(
        int(s.get("total") or 0)
        if s.get("state") in ("done", "skipped")
        else int(s.get("done") or 0)
        for s in infers
    )
    return {
        "stages_total": len(values),
        "stages_done": len(ended),
        "samples_total": samples_total,
        "samples_done": samples_done,
        "fraction": round(len(ended) / len(values), 4) if values else 0.0,
    }


def experiment_json(exp: Experiment, *, stages: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": exp.id,
        "name": exp.name,
        "status": exp.status,
        "source": exp.source,
        "progress": progress(exp.stages or {}),
        "created_at": iso(exp.created_at),
        "started_at": iso(exp.started_at),
        "finished_at": iso(exp.finished_at),
        "error": exp.error,
        "attempts": exp.attempts,
        "launched_by": exp.launched_by,
        "cancelled_by": exp.cancelled_by,
        "spec": {k: v for k, v in (exp.spec or {}).items() if not k.startswith("_")},
    }
    if stages:
        data["stages"] = list((exp.stages or {}).values())
    else:  # a list: a submitted YAML or user_config text is shown by GET of the experiment
        for key in ("yaml", "user_config"):
            if isinstance(data["spec"].get(key), str):
                data["spec"][key] = f"<{len(data['spec'][key])} characters>"
    return data


async def finish(
    session: AsyncSession, exp: Experiment, status: str, error: str | None = None
) -> None:
    """Set the final status and write the ``experiment_finished`` event (once), in one commit."""
    exp.status = status
    exp.error = error
    exp.finished_at = time.time()
    exp.worker_pid = None
    payload: dict[str, Any] = {"type": FINISHED, "status": status, "ts": exp.finished_at}
    if error:
        payload["error"] = error
    await append_events(session, exp.id, [payload])
    await session.commit()


async def finish_if(
    session: AsyncSession,
    exp: Experiment,
    expected: tuple[str, ...],
    status: str,
    error: str | None = None,
) -> bool:
    """``finish``, but only while the experiment is still in one of the ``expected`` states:
    one conditional UPDATE, so a supervisor claiming it at the same moment cannot be
    overwritten (the loser sees False, and the experiment as the winner left it)."""
    finished_at = time.time()
    result = await session.execute(
        update(Experiment)
        .where(Experiment.id == exp.id, Experiment.status.in_(expected))
        .values(status=status, error=error, finished_at=finished_at, worker_pid=None)
    )
    if result.rowcount != 1:
        await session.rollback()
        await session.refresh(exp)
        return False
    payload: dict[str, Any] = {"type": FINISHED, "status": status, "ts": finished_at}
    if error:
        payload["error"] = error
    await append_events(session, exp.id, [payload])
    await session.commit()
    return True


async def import_results(
    database: Database, experiment_id: int, workdir: Path, name: str, chunk: int = 2000
) -> int:
    """Replace the experiment's runs and samples with what ``workdir`` holds; returns samples."""
    results = core_bridge.read_results(workdir, name)
    count = 0
    async with database.session() as session:
        await session.execute(delete(SampleRow).where(SampleRow.experiment_id == experiment_id))
        await session.execute(delete(RunRow).where(RunRow.experiment_id == experiment_id))
        for run in results.runs:
            extra = dict(run.extra)
            if run.data_root is not None:
                extra["data_root"] = str(run.data_root)
            session.add(
                RunRow(
                    experiment_id=experiment_id,
                    run=run.run,
                    model=run.model,
                    dataset=run.dataset,
                    prompt=run.prompt,
                    task=run.task,
                    output_kind=run.output_kind,
                    metrics=run.metrics,
                    extra=extra,
                )
            )
            batch: list[dict[str, Any]] = []
            for sample in core_bridge.run_samples(run):
                batch.append({"experiment_id": experiment_id, **_sample_row(sample)})
                if len(batch) >= chunk:
                    await session.execute(insert(SampleRow), batch)
                    count += len(batch)
                    batch = []
            if batch:
                await session.execute(insert(SampleRow), batch)
                count += len(batch)
        exp = await session.get(Experiment, experiment_id)
        if exp is not None:
            exp.report_dir = str(results.report_dir)
        await bump_samples_version(session, experiment_id)
        await session.commit()
    await analyze_samples(database)
    return count


async def analyze_samples(database: Database) -> None:
    """PostgreSQL, after a bulk import: ``VACUUM (ANALYZE) samples``, about 0.1 s per 100k rows.

    A freshly loaded table has no planner statistics and an empty visibility map, and
    autovacuum fills them in only minutes later. Until then every server process's first
    page of each query pays for it: without statistics the planner may pick a sequential scan
    over the text-search and sort indexes, and without the visibility map the
    ``(experiment_id, id)`` index cannot answer alone, so the count behind ``total``, a deep
    page's ``OFFSET`` and an id-ordered id list read every row from the table (and the first
    reader of each row also sets its hint bits). ANALYZE fixes the statistics; VACUUM marks the
    pages all-visible (and drops the rows a re-import deleted), so those reads are index-only
    scans. VACUUM cannot run in a transaction: the connection autocommits. The samples are
    committed by then, so a VACUUM that fails (a role that may not run it) is logged, and the
    import stands: pages are right either way, only slower until autovacuum runs.
    """
    if database.engine.dialect.name != "postgresql":
        return
    try:
        async with database.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM (ANALYZE) samples")
    except Exception as exc:  # the import is committed; this only speeds its first reads
        log.warning(
            "vlmhb-server: VACUUM (ANALYZE) samples after the import failed (%s); samples "
            "pages read the whole table until autovacuum runs",
            str(exc).splitlines()[0],
        )


def _sample_row(sample: dict[str, Any]) -> dict[str, Any]:
    row = dict(sample)
    row["meta"] = row.pop("metadata", {})
    return row


async def insert_samples(
    session: AsyncSession, experiment_id: int, samples: Iterable[dict[str, Any]]
) -> None:
    """Bulk insert sample dicts (the shape ``core_bridge.run_samples`` yields)."""
    rows = [{"experiment_id": experiment_id, **_sample_row(s)} for s in samples]
    if rows:
        await session.execute(insert(SampleRow), rows)
        await bump_samples_version(session, experiment_id)


async def bump_samples_version(session: AsyncSession, experiment_id: int) -> None:
    """Call in the transaction that changes the experiment's samples: every server process
    keys its cached page orders and totals on this version, so none serves a stale one.
    (On PostgreSQL a trigger also notifies the processes that serve pages from memory:
    migration ``0004``, ``page_cache``.)"""
    await session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id)
        .values(samples_version=Experiment.samples_version + 1)
    )
