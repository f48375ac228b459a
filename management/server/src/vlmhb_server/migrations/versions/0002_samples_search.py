"""samples: a version counter per experiment, and a text-search index

Revision ID: 0002
Revises: 0001

``experiments.samples_version`` is bumped in the same transaction that replaces an
experiment's samples, so every server process can cache page orderings and totals per
(experiment, version, filter) and never serve a stale one.

Text search (``GET .../samples?q=``) gets a real index instead of a scan of every row:
SQLite: an FTS5 table with the trigram tokenizer (so substring search keeps working), kept in
sync by triggers; PostgreSQL: a ``pg_trgm`` GIN index on the searched columns joined
(``vlmhb_server.search.PG_TEXT``). Either may be
unavailable (an SQLite built without FTS5, a role that may not create the extension): the
migration then goes on without the index, the server says so on start, and search scans rows.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("vlmhb_server")

#: the columns ``q=`` searches, in this order in the FTS table
SEARCHED = ("question", "answer", "reference", "sample_id")

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS samples_fts USING fts5("
    + ", ".join(SEARCHED)
    + ", content='samples', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS samples_fts_insert AFTER INSERT ON samples BEGIN "
    "INSERT INTO samples_fts(rowid, {cols}) VALUES (new.id, {new}); END",
    "CREATE TRIGGER IF NOT EXISTS samples_fts_delete AFTER DELETE ON samples BEGIN "
    "INSERT INTO samples_fts(samples_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
    "CREATE TRIGGER IF NOT EXISTS samples_fts_update AFTER UPDATE ON samples BEGIN "
    "INSERT INTO samples_fts(samples_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
    "INSERT INTO samples_fts(rowid, {cols}) VALUES (new.id, {new}); END",
    "INSERT INTO samples_fts(samples_fts) VALUES ('rebuild')",
]


def _sqlite_fts() -> None:
    names = {
        "cols": ", ".join(SEARCHED),
        "new": ", ".join(f"new.{c}" for c in SEARCHED),
        "old": ", ".join(f"old.{c}" for c in SEARCHED),
    }
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            for statement in SQLITE_FTS:
                bind.exec_driver_sql(statement.format(**names))
    except sa.exc.OperationalError as exc:  # no FTS5, or no trigram tokenizer (SQLite < 3.34)
        log.warning(
            "vlmhb-server: SQLite cannot build the text-search index (%s); ?q= scans rows", exc
        )


def upgrade() -> None:
    # plain ALTER TABLE on purpose: a batch (copy and rename) of ``experiments`` would fire its
    # ON DELETE CASCADE and empty the other tables
    op.add_column(
        "experiments",
        sa.Column("samples_version", sa.Integer, nullable=False, server_default="0"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_fts()
    elif dialect == "postgresql":
        # the same statements run again on every start (vlmhb_server.search), so an extension
        # installed later by a superuser is picked up without a new migration
        from vlmhb_server.search import ensure_postgres_trigram

        ensure_postgres_trigram(op.get_bind())


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS samples_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS samples_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_samples_text_trgm")
    op.drop_column("experiments", "samples_version")  # SQLite >= 3.35
