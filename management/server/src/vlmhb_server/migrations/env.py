"""Alembic environment: runs on the connection ``vlmhb_server.migrate`` hands over.

There is no alembic.ini: the server applies migrations itself on start (``migrate``), and a
developer adds one with ``alembic -c <(vlmhb-server alembic-ini) revision`` style tooling or
by writing a file under ``versions/`` by hand.
"""

from __future__ import annotations

from alembic import context
from vlmhb_server.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline SQL generation is not offered
    raise RuntimeError("vlmhb-server migrations run through vlmhb_server.migrate.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
