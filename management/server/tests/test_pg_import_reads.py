"""PostgreSQL after a bulk import: the planner has statistics and the visibility map is set,
so a server's first page of each query reads indexes, not every row of a freshly loaded table.

Behaviour, not timing: the table's statistics and all-visible pages as PostgreSQL reports
them, and the plans of the reads every first page makes (the count behind ``total``, a deep
page's OFFSET) as index-only scans that fetch nothing from the table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import make_workdir
from sqlalchemy import text
from vlmhb_server import store
from vlmhb_server.db import Database, Experiment
from vlmhb_server.samples import Query, SamplesService


async def _experiment(database: Database) -> int:
    async with database.session() as session:
        exp = Experiment(name="bench", status="done", spec={}, source="import", stages={})
        exp.created_at = time.time()
        session.add(exp)
        await session.commit()
        return exp.id


async def _plan(database: Database, sql: str, **args: Any) -> dict[str, Any]:
    """The executed plan of ``sql`` with sequential scans priced out (the test's table is a
    few pages, where a scan would win anyway: what matters is what the index can do alone)."""
    async with database.engine.connect() as conn:
        await conn.exec_driver_sql("SET enable_seqscan = off")
        await conn.exec_driver_sql("SET enable_bitmapscan = off")
        found = await conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"), args)
        raw = found.scalar_one()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


async def test_import_leaves_statistics_and_an_all_visible_table(
    database: Database, tmp_path: Path
) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("planner statistics and the visibility map are PostgreSQL's")
    make_workdir(tmp_path / "cli", "bench", samples=60)
    exp_id = await _experiment(database)
    # a re-import deletes the rows it replaces: they must not linger as dead tuples either
    for _ in range(2):
        count = await store.import_results(database, exp_id, tmp_path / "cli", "bench")
    assert count > 0
    async with database.engine.connect() as conn:
        stats = (
            await conn.execute(
                text(
                    "SELECT c.reltuples, c.relpages, c.relallvisible, s.n_dead_tup "
                    "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
                    "WHERE c.relname = 'samples'"
                )
            )
        ).one()
    reltuples, relpages, relallvisible, dead = stats
    assert reltuples == count  # counted (-1: never analyzed or vacuumed)
    assert relpages > 0 and relallvisible == relpages  # every page all-visible
    assert dead == 0

    where = "WHERE experiment_id = :e"
    for sql in (
        f"SELECT count(*) FROM samples {where}",
        f"SELECT id FROM samples {where} ORDER BY id LIMIT 5 OFFSET {count // 2}",
    ):
        scans = [
            n for n in _nodes(await _plan(database, sql, e=exp_id)) if "Scan" in n["Node Type"]
        ]
        assert [n["Node Type"] for n in scans] == ["Index Only Scan"], sql
        assert scans[0]["Heap Fetches"] == 0, sql

    # and the pages read through these plans are the right ones
    service = SamplesService(database.engine)
    total, rows = await service.page(exp_id, Query(), 5, count // 2)
    assert total == count and len(rows) == 5
    total, rows = await service.page(exp_id, Query(sort="latency_s", order="desc"), count, 0)
    latencies = [r[7] for r in rows if r[7] is not None]
    assert total == count and latencies == sorted(latencies, reverse=True)
