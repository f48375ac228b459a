"""Alembic migrations, applied on start; a database newer than this code is refused.

Refusing matters: an older server writing into a newer schema would silently drop columns it
does not know about, so the error says which revision the database has and which this
``vlmhb-server`` knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .db import Database, redact_url

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this version of the server."""


def _config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    return heads[0]


def _known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


def _current(connection: Any) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _check(current: tuple[str, ...], url: str) -> None:
    unknown = [rev for rev in current if rev not in _known_revisions()]
    if unknown:
        raise SchemaError(
            f"database {redact_url(url)} has schema revision {', '.join(unknown)}, newer than "
            f"this vlmhb-server knows (up to {head_revision()}): upgrade vlmhb-server, or point "
            "--database-url at another database"
        )


async def migrate(database: Database) -> str:
    """Bring the schema to this code's head; returns the revision now in the database."""

    def upgrade(connection: Any) -> str:
        _check(_current(connection), database.url)
        command.upgrade(_config(connection), "head")
        return _current(connection)[0]

    async with database.engine.begin() as connection:
        return await connection.run_sync(upgrade)


async def check_schema(database: Database) -> None:
    """For workers: the schema must be exactly this code's head (the server migrated it)."""

    def check(connection: Any) -> None:
        current = _current(connection)
        _check(current, database.url)
        if current != (head_revision(),):
            raise SchemaError(
                f"database {redact_url(database.url)} is at schema {current or 'none'}, expected "
                f"{head_revision()}: start vlmhb-server on it once to migrate"
            )

    async with database.engine.connect() as connection:
        await connection.run_sync(check)
