"""Alembic migrations: applied on start, idempotent, a newer schema refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from vlmhb_server.db import Database
from vlmhb_server.migrate import SchemaError, check_schema, head_revision, migrate


async def test_migrate_then_refuse_a_newer_schema(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert await migrate(database) == head_revision()
        assert await migrate(database) == head_revision()  # idempotent
        await check_schema(database)
        async with database.engine.begin() as conn:
            tables = await conn.run_sync(
                lambda c: set(__import__("sqlalchemy").inspect(c).get_table_names())
            )
            assert {
                "experiments",
                "events",
                "runs",
                "samples",
                "tokens",
                "alembic_version",
            } <= tables
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(SchemaError, match="9999_future, newer than this vlmhb-server"):
            await migrate(database)
        with pytest.raises(SchemaError, match="upgrade vlmhb-server"):
            await check_schema(database)
    finally:
        await database.dispose()


async def test_worker_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}")
    try:
        with pytest.raises(SchemaError, match="start vlmhb-server on it once to migrate"):
            await check_schema(database)
    finally:
        await database.dispose()


def test_server_start_refuses_a_newer_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.sqlite'}"
    cli = [sys.executable, "-m", "vlmhb_server"]
    done = subprocess.run([*cli, "migrate", "--database-url", url], capture_output=True, text=True)
    assert done.returncode == 0 and head_revision() in done.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute("UPDATE alembic_version SET version_num = 'abcdef'")
    refused = subprocess.run(
        [*cli, "serve", "--port", "0", "--database-url", url, "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "abcdef, newer than this vlmhb-server" in refused.stderr


async def test_0003_gives_existing_tokens_admin_and_adds_who_columns(database_url: str) -> None:
    """A database from before scopes: its tokens could do everything, so they stay able to;
    its experiments get empty launched_by / cancelled_by."""
    from alembic import command
    from vlmhb_server.migrate import _config

    database = Database(database_url)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_config(c), "0002"))
            await conn.execute(
                text("INSERT INTO tokens (name, token_hash, created_at) VALUES ('ci', 'h', 1.0)")
            )
        assert await migrate(database) == head_revision()
        async with database.engine.begin() as conn:
            rows = (await conn.execute(text("SELECT name, scope FROM tokens"))).all()
            columns = await conn.run_sync(
                lambda c: {
                    col["name"]
                    for col in __import__("sqlalchemy").inspect(c).get_columns("experiments")
                }
            )
        assert [tuple(r) for r in rows] == [("ci", "admin")]
        assert {"launched_by", "cancelled_by"} <= columns
    finally:
        await database.dispose()
