"""The database: tables, engine and sessions (SQLite by default, PostgreSQL by URL, same code).

Timestamps are epoch seconds (floats) so SQLite and PostgreSQL compare and sort them the same
way; the API renders them as ISO 8601. Variable shapes (stage states, scores, metadata) live in
JSON columns, and sorting by a score uses SQLAlchemy's portable JSON accessors.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

try:
    import orjson
except ImportError:  # pragma: no cover - a declared dependency; json is the fallback
    orjson = None  # type: ignore[assignment]

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
FINAL_STATUSES = ("done", "failed", "cancelled")


class Base(DeclarativeBase):
    pass


class Experiment(Base):
    """One submitted (or imported) experiment and where its run stands."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="queued")
    #: what to run: {"experiment": name, "limit", "overrides"} | {"yaml": text} | {"user_config": text}
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(20), default="api")  # api | import
    #: stage id -> {name, kind, state, done, total, failed, error}
    stages: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: bumped with every change of this experiment's samples (caches key on it)
    samples_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: owner of the token that submitted it / asked to cancel it (None: imported, or before 0003)
    launched_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EventRow(Base):
    """Every event of an experiment, numbered: the WebSocket replays them by ``seq``."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("experiment_id", "seq", name="uq_events_experiment_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class RunRow(Base):
    """One leaderboard row of an experiment (a model x dataset x prompt x task run)."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("experiment_id", "run", name="uq_runs_experiment_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    run: Mapped[str] = mapped_column(String(400))
    model: Mapped[str] = mapped_column(String(200))
    dataset: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(200))
    output_kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the rest of the leaderboard row: samples, failed, latency_p50_s, status, CIs...
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SampleRow(Base):
    """One answered sample of one run, with its scores: the samples explorer's rows."""

    __tablename__ = "samples"
    __table_args__ = (
        Index("ix_samples_experiment_order", "experiment_id", "id"),
        Index("ix_samples_experiment_run", "experiment_id", "run"),
        Index("ix_samples_experiment_latency", "experiment_id", "latency_s"),
        Index("ix_samples_experiment_sample", "experiment_id", "sample_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    run: Mapped[str] = mapped_column(String(400))
    sample_id: Mapped[str] = mapped_column(String(400))
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    latency_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    image_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    doc_class: Mapped[str | None] = mapped_column(String(200), nullable=True)
    question_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


class Token(Base):
    """An API token, stored as its SHA-256 (the token itself is shown once, at creation)."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: the token's owner: recorded as who launched or cancelled an experiment
    name: Mapped[str] = mapped_column(String(200))
    #: read | run | admin (see ``vlmhb_server.auth.SCOPES``)
    scope: Mapped[str] = mapped_column(String(20), default="read", server_default="admin")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


#: connections per server process to an SQLite database
SQLITE_POOL = 8
#: connections per server process to PostgreSQL: a few per core. A samples page is a
#: fraction of a millisecond of work on the database; 20 pooled connections under 50 clients
#: meant 20 busy backends taking turns on the cores, ~25% more CPU a page than with 8
PG_POOL = 8


def json_loads(raw: str | bytes) -> Any:
    """JSON columns are read on every samples page: orjson, or json for what orjson refuses
    (``NaN``, which ``json.dumps`` writes for a NaN score)."""
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def create_private_sqlite(url: str) -> None:
    """Create the SQLite file of ``url`` readable by its owner only (0600) when it does not
    exist yet; SQLite gives its WAL and shared-memory files the same mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def make_engine(url: str) -> AsyncEngine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so the server and its workers
    (separate processes) write to one file without 'database is locked' errors."""
    if url.startswith("sqlite"):
        create_private_sqlite(url)
        # readers run in parallel under WAL, but each aiosqlite connection is a thread, and
        # under load an overflow connection is opened and closed per request (a new thread,
        # the file opened, the pragmas): a fixed pool of a few per core is faster; requests
        # beyond it wait for a connection, in order
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=SQLITE_POOL,
            max_overflow=0,
            pool_timeout=120,
            json_deserializer=json_loads,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # per server process (``--workers N`` multiplies it); no overflow: under load an overflow
    # connection is a new PostgreSQL backend opened and closed per request, slower than
    # waiting for a pooled one
    asyncpg = make_url(url).get_driver_name() == "asyncpg"
    engine = create_async_engine(
        url,
        pool_size=PG_POOL,
        max_overflow=0,
        pool_timeout=120,
        pool_pre_ping=not asyncpg,  # other drivers: no local way to know, ask the server
        json_deserializer=json_loads,
    )
    if asyncpg:
        event.listen(engine.sync_engine, "checkout", _closed_by_server)
    return engine


def _closed_by_server(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled asyncpg connection that PostgreSQL closed (a restart, an idle timeout, a
    terminated backend) is replaced at checkout, so no request fails on it.

    asyncpg learns of the close as it happens (its socket is read by the server's event
    loop), so this asks nothing of the database. ``pool_pre_ping`` would ask: a transaction
    around an empty statement, three round trips to another process at every checkout, which
    was most of a cached samples page's cost under load. (A silently dropped network path is
    noticed by the statement that fails, and SQLAlchemy then replaces the pool's
    connections.)"""
    if record.driver_connection.is_closed():
        raise DisconnectionError("PostgreSQL closed this pooled connection")


class Database:
    """The engine and a session factory, created once per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def redact_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by the engine itself
        return "<unparsable database URL>"
