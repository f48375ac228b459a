"""Results of CLI runs (``vlmhb run``, ``nox -s bench``) brought into the database.

Used by ``POST /api/import`` and ``vlmhb-server import``; importing the same work dir's
experiment again replaces what the first import brought, so it never duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from . import core_bridge, store
from .db import Database, EventRow, Experiment


async def import_experiment(
    database: Database,
    workdir: Path,
    name: str,
    notify: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """One experiment's report and files into the database (re-import replaces it)."""
    db = database
    results = await asyncio.to_thread(core_bridge.read_results, workdir, name)
    failed = any(r.extra.get("error") for r in results.runs)
    events: list[dict[str, Any]] = []
    events_file = results.report_dir / "events.jsonl"
    if events_file.is_file():
        for line in events_file.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    async with db.session() as session:
        existing = (
            await session.execute(
                select(Experiment).where(Experiment.source == "import", Experiment.name == name)
            )
        ).scalars()
        exp = next((e for e in existing if (e.spec or {}).get("_workdir") == str(workdir)), None)
        if exp is None:
            exp = Experiment(
                name=name,
                source="import",
                spec={"_workdir": str(workdir), "imported_from": str(workdir)},
                attempts=0,
                cancel_requested=0,
                created_at=time.time(),
            )
            session.add(exp)
        else:
            await session.execute(
                EventRow.__table__.delete().where(EventRow.experiment_id == exp.id)
            )
        stages: dict[str, Any] = {}
        for event in events:
            store.apply_event(stages, event)
        exp.status = "failed" if failed else "done"
        exp.stages = stages
        exp.started_at = min((e.get("ts") or time.time() for e in events), default=None)
        await session.flush()
        await store.append_events(session, exp.id, events)
        await store.finish(session, exp, exp.status)
        exp_id = exp.id
    count = await store.import_results(db, exp_id, workdir, name)
    if notify is not None:
        notify(exp_id)
    return {"id": exp_id, "name": name, "runs": len(results.runs), "samples": count}
