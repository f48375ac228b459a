"""Fixtures: a real PostgreSQL (initdb + pg_ctl on a unix socket in a temp dir), database URLs
for both backends, and the server as a real process."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import helpers
import pytest
from helpers import REPO, ServerProcess


@pytest.fixture(scope="session")
def postgres() -> Iterator[dict[str, str]]:
    with helpers.throwaway_postgres("vlmhb-pg-") as (_, sock):
        yield {"host": str(sock), "user": "vlmhb"}


def _new_pg_database(pg: dict[str, str]) -> str:
    import asyncpg

    name = "t_" + uuid.uuid4().hex[:12]

    async def create() -> None:
        conn = await asyncpg.connect(user=pg["user"], host=pg["host"], database="postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"postgresql+asyncpg://{pg['user']}@/{name}?host={pg['host']}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'server.sqlite'}"
    return _new_pg_database(request.getfixturevalue("postgres"))


@pytest.fixture
async def database(database_url: str):
    """A migrated, empty database of each backend, opened by this process."""
    from vlmhb_server.db import Database
    from vlmhb_server.migrate import migrate

    db = Database(database_url)
    await migrate(db)
    yield db
    await db.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'server.sqlite'}"


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Servers started by a test, stopped (and their leftover workers killed) after it.

    The workers go first: a server stopping with running workers waits up to its grace period
    for them, and a worker its server no longer tracks would run on into later tests."""
    started: list[ServerProcess] = []
    yield started
    helpers.kill_experiment_workers(tmp_path)
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def read_only_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One SQLite server for the whole session, for tests that change nothing on it: no
    experiment, token, import or file is made, and it is never stopped by a test (each of those
    tests used to start a server of its own, ~4 s apiece). A test that needs an empty or a
    fresh server, or reads its log, starts its own."""
    root = tmp_path_factory.mktemp("read-only-server")
    server = ServerProcess(root / "work", f"sqlite+aiosqlite:///{root / 'server.sqlite'}")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def registries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's registries in a checkout-shaped temp folder (package folders linked),
    without files that do not validate today: other work in progress on the registries must
    not decide whether the server's tests pass. Files the tests need are never dropped."""
    from vlmhb_server import core_bridge

    root = tmp_path_factory.mktemp("repo")
    for entry in REPO.iterdir():
        if entry.name not in ("registries", ".git", ".nox", ".work"):
            (root / entry.name).symlink_to(entry)
    shutil.copytree(REPO / "registries", root / "registries")
    for _ in range(10):
        try:
            core_bridge.open_registry(root / "registries", "dev")
            break
        except core_bridge.InputError as exc:
            files = {line.split(":", 1)[0] for line in exc.problems}
            needed = [f for f in files if Path(f).stem in ("default", "tesseract", "rapidocr")]
            if needed or not files:
                raise
            for name in files:
                Path(name).unlink(missing_ok=True)
    helpers.ACTIVE["registries"] = root / "registries"
    return root / "registries"
