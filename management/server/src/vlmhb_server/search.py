"""Text search over samples (``?q=``): which index this database has, and the condition.

Semantics, the same on every backend: a case-insensitive *substring* match of ``q`` (taken
literally: ``%`` and ``_`` are characters, not wildcards) in the question, the answer, the
reference or the sample id.

- SQLite: the ``samples_fts`` FTS5 table (trigram tokenizer, migration 0002): a phrase query
  of ``q`` is exactly "contains ``q``", answered from the index. Trigrams need three characters,
  so a shorter ``q`` falls back to a scan (cheap to state, rare to ask).
- PostgreSQL: ``ILIKE`` on the four columns joined into one text (``PG_TEXT``, separated by
  U+001F, so a match never spans two fields unless ``q`` holds that control character),
  answered by one ``pg_trgm`` GIN index on that expression when the extension could be
  created (migration 0002, retried on every start), else a scan. One index, not one per
  column: the planner prices a BitmapOr of four trigram scans above a sequential scan of a
  100k-row table and picks the scan, ~100 ms a search instead of ~2 ms.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Integer, column, or_, text
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import SampleRow

log = logging.getLogger("vlmhb_server")

SEARCHED = ("question", "answer", "reference", "sample_id")
#: the searched text on PostgreSQL: the index's expression, written the same in queries
PG_TEXT = (
    "(coalesce(question, '') || E'\\x1f' || coalesce(answer, '') || E'\\x1f' || "
    "coalesce(reference, '') || E'\\x1f' || sample_id)"
)
PG_INDEX = "ix_samples_text_trgm"
FTS5 = "fts5-trigram"
TRIGRAM = "pg_trgm"
SCAN = "scan"


def ensure_postgres_trigram(connection: Any) -> bool:
    """Create ``pg_trgm`` and its GIN indexes when this role may; True when they exist.

    Runs inside a savepoint so a refused ``CREATE EXTENSION`` (a role that is not the
    database owner, a server without the contrib package) leaves the caller's transaction
    usable; the server then searches by scanning and says so on start.
    """
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            connection.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON samples "
                f"USING gin ({PG_TEXT} gin_trgm_ops)"
            )
        return True
    except Exception as exc:  # the role may not create it; the message says why
        log.warning(
            "vlmhb-server: no pg_trgm text-search index (%s); ?q= scans rows until a superuser "
            "runs CREATE EXTENSION pg_trgm in this database and the server restarts",
            str(exc).splitlines()[0],
        )
        return False


async def detect(engine: AsyncEngine) -> str:
    """Which text-search index this database has (``FTS5``, ``TRIGRAM`` or ``SCAN``)."""
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            found = await conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'samples_fts'"
            )
            backend = FTS5 if found.first() else SCAN
        elif engine.dialect.name == "postgresql":
            found = await conn.exec_driver_sql(
                f"SELECT count(*) FROM pg_indexes WHERE indexname = '{PG_INDEX}'"
            )
            have = found.scalar_one() == 1
            if not have:  # the extension may have been installed since the migration
                have = await conn.run_sync(ensure_postgres_trigram)
            backend = TRIGRAM if have else SCAN
        else:
            backend = SCAN
    if backend == SCAN:
        log.warning("vlmhb-server: text search (?q=) has no index on this database: it scans")
    return backend


def literal(q: str) -> str:
    """``q`` for a LIKE pattern with ``ESCAPE '\\'``: ``%``, ``_`` and ``\\`` match
    themselves."""
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def condition(q: str, backend: str) -> Any:
    """The WHERE condition for ``q`` on this backend (see the module docstring)."""
    if backend == FTS5 and len(q) >= 3:
        phrase = '"' + q.replace('"', '""') + '"'
        matches = (
            text("SELECT rowid FROM samples_fts WHERE samples_fts MATCH :phrase")
            .bindparams(phrase=phrase)
            .columns(column("rowid", Integer))
        )
        return SampleRow.id.in_(matches)
    pattern = f"%{literal(q)}%"
    if backend == TRIGRAM:
        return text(f"{PG_TEXT} ILIKE :pattern ESCAPE '\\'").bindparams(pattern=pattern)
    return or_(*(getattr(SampleRow, name).ilike(pattern, escape="\\") for name in SEARCHED))
