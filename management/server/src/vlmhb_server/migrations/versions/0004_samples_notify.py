"""PostgreSQL: a change of an experiment's samples notifies the server processes

Revision ID: 0004
Revises: 0003

Each server process on PostgreSQL serves the pages of a samples version it knows current
from memory (``vlmhb_server.page_cache``), and learns that a version is no longer current
from a notification on ``vlmhb_samples`` (payload: the experiment's id). A trigger sends it,
so that every writer does, whatever code it runs: a bump of ``samples_version`` (a
re-import) and the deletion of an experiment. PostgreSQL delivers it when the changing
transaction commits. SQLite has no notifications and no page cache: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = [
    "CREATE OR REPLACE FUNCTION vlmhb_samples_changed() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_notify('vlmhb_samples', OLD.id::text); RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS experiments_samples_changed ON experiments",
    # EXECUTE PROCEDURE: PostgreSQL 10 knows no EXECUTE FUNCTION
    "CREATE TRIGGER experiments_samples_changed "
    "AFTER UPDATE OF samples_version OR DELETE ON experiments "
    "FOR EACH ROW EXECUTE PROCEDURE vlmhb_samples_changed()",
]
DOWNGRADE = [
    "DROP TRIGGER IF EXISTS experiments_samples_changed ON experiments",
    "DROP FUNCTION IF EXISTS vlmhb_samples_changed()",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
