"""The samples explorer's query: filters, sort, page; built to stay fast with 100k+ rows.

Samples of an experiment change only when its results are (re)imported, and that bumps
``experiments.samples_version`` in the same transaction. So each server process caches, per
(experiment, version, filters, sort), the ordered list of matching row ids: ``total`` is its
length and any page, however deep, is one primary-key lookup of ``limit`` rows. The first ask
of a combination pays for one ``SELECT id ... ORDER BY`` (a sort by a score reads JSON from
every matching row; the text search reads its index; on PostgreSQL the same statement also
reads the page's rows: one round trip); concurrent asks of the same combination share that
one query. The cache is bounded by the number of ids it holds, least recently used first out.

Unfiltered pages in id order (the explorer's first view) need no list: the
``(experiment_id, id)`` index answers them, with a cached count as ``total``.

Which version is current is not asked before each page: the process assumes the version it
saw last and the statement that reads the page's rows also reads the experiment's version
(one statement, one snapshot). When that differs (a re-import), the page is made again for
the new version. So a page whose ordering is cached is one round trip to the database,
which on PostgreSQL, where every round trip is a hand-off to another process, is most of
its cost under load: there ``body`` serves the rendered pages of versions it knows current
from memory instead, without asking (``page_cache``: how it knows, and what that gives up).

What used to cost most under 50 concurrent clients was not SQL: ORM objects, SQLAlchemy's
several hand-offs per query to aiosqlite's thread, each waiting on a busy event loop and the
GIL, FastAPI's JSON encoding. So rows are read as plain tuples on the driver's own connection
(one round trip), on SQLite from the event loop itself (a 0.1 ms indexed read is cheaper than
any hand-off; see ``_inline_reads``), and the body is encoded by orjson.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from array import array
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine

from . import page_cache, search
from .db import Experiment, SampleRow, json_loads
from .lru import BoundedLRU

log = logging.getLogger("vlmhb_server")
T = TypeVar("T")

#: query parameters that are not metadata filters
RESERVED = frozenset(
    {"run", "q", "sort", "order", "limit", "offset", "token", "sample_id", "metric"}
    | {"score_min", "score_max", "latency_min", "latency_max"}
)
_COLUMNS = {
    "id": SampleRow.id,
    "sample_id": SampleRow.sample_id,
    "run": SampleRow.run,
    "latency_s": SampleRow.latency_s,
    "doc_class": SampleRow.doc_class,
    "question_type": SampleRow.question_type,
}
_PAGE = select(
    SampleRow.id,
    SampleRow.run,
    SampleRow.sample_id,
    SampleRow.question,
    SampleRow.reference,
    SampleRow.answer,
    SampleRow.scores,
    SampleRow.latency_s,
    SampleRow.image_path,
    SampleRow.doc_class,
    SampleRow.question_type,
    SampleRow.meta,
)


#: how long an inline SQLite read may wait for a lock before it goes to a thread instead
INLINE_BUSY_MS = 20

#: the longest an ordered id list may take to compute on the event loop (else: a thread)
INLINE_BUDGET_MS = 20

#: pages of an unfiltered query deeper than this get a cached id list (made in the
#: background; until it is there they are read from the index like the first pages)
PLAIN_OFFSET = 2000


class NotFound(LookupError):
    """No such experiment (404)."""


class BadQuery(ValueError):
    """A filter parameter the explorer cannot apply (422), named in the message."""


@dataclass(frozen=True)
class Ranges:
    """The explorer's range filters: a score of one metric and the latency, bounds inclusive.
    A sample without that score (or latency) is outside any range on it."""

    metric: str = ""
    score_min: float | None = None
    score_max: float | None = None
    latency_min: float | None = None
    latency_max: float | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Ranges:
        bounds = {k: _bound(params, k) for k in _RANGE_KEYS}
        metric = params.get("metric", "")
        if (bounds["score_min"] is not None or bounds["score_max"] is not None) and not metric:
            raise BadQuery("score_min/score_max: name the metric they apply to in metric=")
        return cls(metric=metric, **bounds)

    @property
    def bounded(self) -> bool:
        """Whether any bound is set (asked on every page: no SQL is built for it)."""
        return any(getattr(self, key) is not None for key in _RANGE_KEYS)

    def where(self) -> list[Any]:
        where: list[Any] = []
        score = SampleRow.scores[self.metric].as_float()
        for column, low, high in (
            (score, self.score_min, self.score_max),
            (SampleRow.latency_s, self.latency_min, self.latency_max),
        ):
            if low is not None:
                where.append(column >= low)
            if high is not None:
                where.append(column <= high)
        return where


_RANGE_KEYS = ("score_min", "score_max", "latency_min", "latency_max")


def _bound(params: Mapping[str, str], key: str) -> float | None:
    text = params.get(key, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadQuery(f"{key}: expected a number, got {text[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadQuery(f"{key}: expected a finite number, got {text[:40]!r}")
    return value


@dataclass(frozen=True)
class Query:
    """One samples request, normalised so that equal requests share a cache entry."""

    runs: tuple[str, ...] = ()
    q: str = ""
    sort: str = "id"
    order: str = "asc"
    filters: tuple[tuple[str, str], ...] = ()
    #: one sample's answers in every run (the explorer's side-by-side view)
    sample_id: str = ""
    ranges: Ranges = Ranges()

    @classmethod
    def from_params(
        cls, params: Mapping[str, str], run: str | None, q: str | None, sort: str, order: str
    ) -> Query:
        """Raises ``BadQuery`` for a range bound that is not a number."""
        filters = tuple(sorted((k, v) for k, v in params.items() if k not in RESERVED))
        runs = tuple(sorted(set(run.split(",")))) if run else ()
        return cls(
            runs=runs,
            q=q or "",
            sort=sort,
            order=order,
            filters=filters,
            sample_id=params.get("sample_id", ""),
            ranges=Ranges.from_params(params),
        )

    @property
    def plain(self) -> bool:
        """Every sample in id order: the index answers any page, no id list is needed."""
        filtered = self.runs or self.q or self.filters or self.sample_id
        return not (filtered or self.ranges.bounded) and self.sort == "id"

    def where(self, experiment_id: int, backend: str) -> list[Any]:
        where: list[Any] = [SampleRow.experiment_id == experiment_id]
        if self.sample_id:
            where.append(SampleRow.sample_id == self.sample_id)
        where += self.ranges.where()
        if self.runs:
            where.append(SampleRow.run.in_(self.runs))
        if self.q:
            where.append(search.condition(self.q, backend))
        for key, value in self.filters:
            if key == "doc_class":
                where.append(SampleRow.doc_class == value)
            elif key == "question_type":
                where.append(SampleRow.question_type == value)
            else:
                where.append(SampleRow.meta[key].as_string() == value)
        return where

    def ordering(self) -> list[Any]:
        metric = self.sort.removeprefix("score:")
        column = _COLUMNS.get(self.sort, SampleRow.scores[metric].as_float())
        ordered = column.desc() if self.order == "desc" else column.asc()
        if self.sort not in ("id", "sample_id", "run"):
            ordered = ordered.nulls_last()
        return [ordered, SampleRow.id]


class SamplesCache(BoundedLRU[array]):
    """Ordered id lists per (experiment, samples version, query), LRU, bounded in ids."""

    def __init__(self, max_ids: int = 4_000_000) -> None:
        super().__init__(max_ids)
        self.pending: dict[tuple[Any, ...], asyncio.Future[array]] = {}
        #: totals of unfiltered experiments, whose pages need no id list
        self.totals: dict[tuple[Any, ...], int] = {}
        self.pending_totals: dict[tuple[Any, ...], asyncio.Future[int]] = {}


class SamplesService:
    def __init__(self, engine: AsyncEngine, cache: SamplesCache | None = None) -> None:
        self.engine = engine
        self.cache = cache or SamplesCache()
        self.backend = search.SCAN
        #: the samples version this process saw last, per experiment (checked by every page)
        self.versions: dict[int, int] = {}
        self._pending_versions: dict[int, asyncio.Future[Any]] = {}
        self._inline: _Reads | bool | None = None
        self._background: set[asyncio.Task[Any]] = set()
        #: PostgreSQL, once ``start_watching``: which versions are current, and their pages
        self.watch: page_cache.VersionWatch | None = None
        self.bodies = page_cache.PageCache()

    async def body(self, experiment_id: int, query: Query, limit: int, offset: int) -> bytes:
        """One page as the API's response body (``render``); raises ``NotFound``. On
        PostgreSQL a page of a version known current is served from memory (``page_cache``)."""
        watch = self.watch
        ticket = None
        if watch is not None:
            current = watch.version(experiment_id)
            if current is not None:
                found = self.bodies.get((experiment_id, current, query, limit, offset))
                if found is not None:
                    return found
            ticket = watch.ticket(experiment_id)
        version, total, rows = await self._read(experiment_id, query, limit, offset)
        body = render(experiment_id, total, rows)
        if watch is not None and version is not None:
            if watch.confirm(experiment_id, version, ticket):
                self.bodies.put((experiment_id, version, query, limit, offset), body)
        return body

    async def page(
        self, experiment_id: int, query: Query, limit: int, offset: int
    ) -> tuple[int, list[Any]]:
        """``(total, rows)`` of one page; raises ``NotFound`` for an unknown experiment."""
        _, total, rows = await self._read(experiment_id, query, limit, offset)
        return total, rows

    async def _read(
        self, experiment_id: int, query: Query, limit: int, offset: int
    ) -> tuple[int | None, int, list[Any]]:
        """``(version, total, rows)``: one page read from the database and the samples version
        it is of (None: the experiment kept changing while it was read; the rows as read)."""
        inline = self._inline_reads()
        if inline is not None:
            try:
                return await self._page(inline, None, experiment_id, query, limit, offset)
            except sqlite3.OperationalError:  # busy for longer than a moment: the usual path
                pass
        async with self.engine.connect() as conn:
            reads = await _Reads.of(conn)
            return await self._page(reads, conn, experiment_id, query, limit, offset)

    async def _page(
        self,
        reads: _Reads,
        conn: Any,
        experiment_id: int,
        query: Query,
        limit: int,
        offset: int,
    ) -> tuple[int | None, int, list[Any]]:
        """The page for the version seen last, checked by the read of its rows; made again
        when the experiment changed meanwhile (at most twice more: then the rows as read)."""
        for _ in range(3):
            version = self.versions.get(experiment_id)
            if version is None:
                version = await self._version(reads, experiment_id)
                if version is None:
                    raise NotFound(experiment_id)
                self._saw(experiment_id, version)
            key = (experiment_id, version, query)
            current, total, rows = await self._page_at(reads, conn, key, limit, offset)
            if current == version:
                return version, total, rows
            if current is None:  # deleted meanwhile
                self.versions.pop(experiment_id, None)
                raise NotFound(experiment_id)
            self._saw(experiment_id, current)
        return None, total, rows

    def _saw(self, experiment_id: int, version: int) -> None:
        self.versions[experiment_id] = version
        while len(self.versions) > 4096:
            self.versions.pop(next(iter(self.versions)))

    async def _page_at(
        self, reads: _Reads, conn: Any, key: tuple[Any, ...], limit: int, offset: int
    ) -> tuple[int | None, int, list[Any]]:
        """``(version, total, rows)``: one page of ``key``'s query, read as if ``key``'s
        samples version were current, and the version the rows were read at. Only when the
        two agree is the page right; what this caches under a ``key`` that turns out stale
        is never asked for again (versions only grow)."""
        experiment_id, _, query = key
        ids = self.cache.get(key)
        if ids is None and query.plain:
            # every sample in id order: the index answers any page, so no request waits for
            # the id list; deep pages get one (here if quick, else in the background) because
            # an OFFSET walks every skipped index entry (~1 ms per 50k)
            if offset > PLAIN_OFFSET:
                ids = self._ids_inline(key, experiment_id, query)
                if ids is None:
                    self._prepare(key, experiment_id, query)
            if ids is None:
                total = await self._total(reads, key, experiment_id)
                found = await reads.plain_page(experiment_id, query.order, limit, offset)
                if found is not None:
                    return found[0], total, found[1]
        if ids is None:
            ids = self._ids_inline(key, experiment_id, query)
        if ids is None and reads.dialect == "postgresql" and reads.driver is not None:
            first = await self._first_ask(reads, key, experiment_id, query, limit, offset)
            if first is not None:
                return first
            ids = self.cache.get(key)
        if ids is None:
            ids = await self._ids(conn, key, experiment_id, query)
        wanted = ids[offset : offset + limit]
        version, rows = await reads.rows(experiment_id, wanted.tolist())
        return version, len(ids), _in_order(wanted, rows)

    async def warm(self) -> None:
        """PostgreSQL: open the pool's connections now and prepare a page's reads on each.

        Otherwise the first requests after every start pay for it under load: each new
        connection is a new backend process (~10 ms), and asyncpg prepares each statement
        (and looks up its types) on first use per connection, a round trip or several each.
        (SQLite's pages read on a connection of their own; see ``_inline_reads``.)"""
        if self.engine.dialect.driver != "asyncpg":
            return
        async with contextlib.AsyncExitStack() as held:
            for _ in range(self.engine.pool.size()):  # type: ignore[attr-defined]
                conn = await held.enter_async_context(self.engine.connect())
                await (await _Reads.of(conn)).prepare()

    def start_watching(self) -> None:
        """PostgreSQL (asyncpg): listen for samples changes, so that pages of the versions
        known current are served from memory (``page_cache``). Elsewhere: nothing."""
        if self.engine.dialect.driver == "asyncpg" and self.watch is None:
            self.watch = page_cache.VersionWatch(
                page_cache.asyncpg_connector(self.engine), self._notify
            )
            self.watch.start()

    async def _notify(self, payload: str) -> None:
        """A notification on ``page_cache.CHANNEL`` from a pooled connection (the watch's
        probe: another session than the listening one)."""
        async with self.engine.connect() as conn:
            await conn.execute(select(func.pg_notify(page_cache.CHANNEL, payload)))
            await conn.commit()

    async def stop_watching(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
            self.watch = None

    def close(self) -> None:
        if isinstance(self._inline, _Reads):
            self._inline.driver.db.close()
        self._inline = None

    def _inline_reads(self) -> _Reads | None:
        """SQLite only: this process's own connection for the page's short indexed reads.

        SQLite runs in this process, and a primary-key read of 50 rows takes ~0.1 ms: less
        than handing it to an aiosqlite thread and back (and under load the hand-offs also
        fight over the GIL). So those reads run here, on the event loop, on a connection
        that waits at most ``INLINE_BUSY_MS`` for a lock (WAL readers normally never wait)
        and otherwise gives the read back to the threaded path. What can take longer (the
        ordered id list of a new filter) runs here only within ``INLINE_BUDGET_MS``, else
        on a thread (``_ids_inline``).
        """
        if self._inline is None:
            url = self.engine.url
            database = url.database or ""
            if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
                self._inline = False
            else:
                db = sqlite3.connect(database, isolation_level=None, check_same_thread=True)
                db.execute(f"PRAGMA busy_timeout = {INLINE_BUSY_MS}")
                db.execute("PRAGMA query_only = 1")
                self._inline = _Reads(None, _InlineSQLite(db), "sqlite")
        return self._inline or None

    def _statement(self, experiment_id: int, query: Query) -> Any:
        return _ordered_ids(query.where(experiment_id, self.backend), query.ordering())

    def _ids_inline(self, key: tuple[Any, ...], experiment_id: int, query: Query) -> array | None:
        """SQLite: the ordered ids computed right here when that takes under
        ``INLINE_BUDGET_MS`` (100k ids in id order ~7 ms, sorted by a score ~15 ms, a text
        search well under 1 ms); past the budget SQLite interrupts it and a thread does it.
        Cheaper than a thread's hand-offs, which wait on a loop busy with other requests."""
        inline = self._inline_reads()
        if inline is None or key in self.cache.pending:
            return None
        found = _sqlite_ids_sql(self._statement(experiment_id, query), self.engine.dialect)
        if found is None:
            return None
        try:
            text = inline.driver.value_within(*found, INLINE_BUDGET_MS / 1000)
        except sqlite3.OperationalError:  # over budget (or busy): a thread does it
            return None
        ids = array("q", orjson.loads(text))
        self.cache.put(key, ids)
        return ids

    def _prepare(self, key: tuple[Any, ...], experiment_id: int, query: Query) -> None:
        if key in self.cache.pending:
            return
        task = asyncio.create_task(self._ids(None, key, experiment_id, query))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    async def _total(self, reads: _Reads, key: tuple[Any, ...], experiment_id: int) -> int:
        found = self.cache.totals.get(key)
        if found is not None:
            return found
        # 50 first asks must not count 100k rows 50 times
        found = await _once(self.cache.pending_totals, key, lambda: reads.count(experiment_id))
        self.cache.totals[key] = found
        while len(self.cache.totals) > 1024:
            self.cache.totals.pop(next(iter(self.cache.totals)))
        return found

    async def _version(self, reads: _Reads, experiment_id: int) -> int | None:
        """The experiment's samples version, read once however many requests ask at once
        (a new process under load gets its first asks all together)."""
        return await _once(
            self._pending_versions, experiment_id, lambda: reads.version(experiment_id)
        )

    async def _first_ask(
        self,
        reads: _Reads,
        key: tuple[Any, ...],
        experiment_id: int,
        query: Query,
        limit: int,
        offset: int,
    ) -> tuple[int | None, int, list[Any]] | None:
        """PostgreSQL: a query's ordered ids and its page's rows in one statement (one round
        trip: a search for a new term is a first ask on every request). Concurrent askers of
        the same ``key`` wait for these ids (``_once``) and read their own rows; they, and a
        construct the shortcut does not know, get None and take the usual path."""
        if key in self.cache.pending:
            return None
        found = _driver_sql(
            _pg_ordered_ids(query.where(experiment_id, self.backend), query.ordering()),
            reads.conn.dialect,
        )
        if found is None:
            return None
        page: list[tuple[int | None, int, list[Any]]] = []

        async def select() -> array:
            version, ids, rows = await reads.ids_and_page(*found, experiment_id, limit, offset)
            if version is not None:  # cached under the version it was read at
                self.cache.put((experiment_id, version, query), ids)
            page.append((version, len(ids), _in_order(ids[offset : offset + limit], rows)))
            return ids

        await _once(self.cache.pending, key, select)
        return page[0]

    async def _ids(
        self, conn: Any, key: tuple[Any, ...], experiment_id: int, query: Query
    ) -> array:
        """The ordered ids for ``key``, computed once however many requests ask at once."""

        async def select() -> array:
            where = query.where(experiment_id, self.backend)
            if conn is None:  # the inline path holds no pooled connection: take one now
                async with self.engine.connect() as own:
                    ids = await _select_ids(own, where, query.ordering())
            else:
                ids = await _select_ids(conn, where, query.ordering())
            self.cache.put(key, ids)
            return ids

        return await _once(self.cache.pending, key, select)


async def _once(
    pending: dict[Any, asyncio.Future[Any]], key: Any, make: Callable[[], Awaitable[T]]
) -> T:
    """``make()``'s answer, made once for everyone asking for ``key`` meanwhile: the future is
    registered before any await, so concurrent askers find it and share its answer (or its
    error)."""
    found = pending.get(key)
    if found is not None:
        return await asyncio.shield(found)
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    pending[key] = future
    try:
        value = await make()
        future.set_result(value)
        return value
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters re-raise it, nobody else must
        raise
    finally:
        del pending[key]


#: a page's columns, as ``_PAGE`` selects them, on the ``samples s`` of the reads' joins
_FIELD_NAMES = (
    *("id", "run", "sample_id", "question", "reference", "answer", "scores", "latency_s"),
    *("image_path", "doc_class", "question_type", "metadata"),
)
_FIELDS = ", ".join(f"s.{name}" for name in _FIELD_NAMES)
#: the experiment's samples version beside a page's rows, read by the same statement: the
#: rows' own ``ON`` condition picks them, and an experiment with none still gives its version
_WITH_VERSION = (
    "SELECT e.samples_version, {fields} FROM experiments e "
    "LEFT JOIN samples s ON s.experiment_id = e.id AND s.id {ids} WHERE e.id = {experiment}"
)


#: a query's ordered ids (``{ids}``: one ``int[]`` named ``ids``) and the rows of one page of
#: them, with the samples version, in one statement: a head row, then the page's rows
_IDS_AND_PAGE = (
    "WITH m AS ({ids}) "
    "SELECT true, e.samples_version, m.ids, {nulls} FROM experiments e CROSS JOIN m "
    "WHERE e.id = {e} "
    "UNION ALL "
    "SELECT false, NULL, NULL, {fields} FROM samples s CROSS JOIN m "
    "WHERE s.experiment_id = {e} AND s.id = ANY(m.ids[{first}:{last}])"
)


class _InlineSQLite:
    """aiosqlite's ``execute_fetchall`` on a plain sqlite3 connection, run in place."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def execute_fetchall(self, sql: str, args: Any) -> list[Any]:
        return self.db.execute(sql, args).fetchall()

    def value_within(self, sql: str, args: Any, budget_s: float) -> Any:
        """The first column of the first row, or ``sqlite3.OperationalError`` when the
        query runs longer than ``budget_s`` (SQLite's progress handler interrupts it)."""
        deadline = time.perf_counter() + budget_s
        self.db.set_progress_handler(lambda: time.perf_counter() > deadline, 2000)
        try:
            return self.db.execute(sql, args).fetchone()[0]
        finally:
            self.db.set_progress_handler(None, 0)


class _Reads:
    """The two reads every page makes, each one round trip to the database.

    Through SQLAlchemy's async adapters a query is several hand-offs to the driver (cursor,
    execute, fetch, close: for aiosqlite each one a trip to its thread), ~2 ms a page under
    load; on the driver's own connection (aiosqlite's ``execute_fetchall``, asyncpg's
    ``fetch``) it is one, ~0.5 ms. JSON columns then come as text and are parsed here.
    Other drivers take the SQLAlchemy path.
    """

    def __init__(self, conn: Any, driver: Any, dialect: str) -> None:
        self.conn, self.driver, self.dialect = conn, driver, dialect

    @classmethod
    async def of(cls, conn: Any) -> _Reads:
        dialect = conn.dialect.name
        driver = None
        if conn.dialect.driver in ("aiosqlite", "asyncpg"):
            driver = (await conn.get_raw_connection()).driver_connection
        return cls(conn, driver, dialect)

    async def prepare(self) -> None:
        """Each read once, for an experiment that does not exist (id 0): what a driver
        prepares and caches per connection is then ready."""
        await self.version(0)
        await self.count(0)
        for order in ("asc", "desc"):
            await self.plain_page(0, order, 1, 0)
        await self.rows(0, [])

    async def version(self, experiment_id: int) -> int | None:
        if self.driver is None:
            found = await self.conn.execute(
                select(Experiment.samples_version).where(Experiment.id == experiment_id)
            )
            return found.scalar_one_or_none()
        if self.dialect == "sqlite":
            rows = await self.driver.execute_fetchall(
                "SELECT samples_version FROM experiments WHERE id = ?", (experiment_id,)
            )
        else:
            rows = await self.driver.fetch(
                "SELECT samples_version FROM experiments WHERE id = $1", experiment_id
            )
        return rows[0][0] if rows else None

    async def count(self, experiment_id: int) -> int:
        if self.driver is None:
            found = await self.conn.execute(
                select(func.count())
                .select_from(SampleRow)
                .where(SampleRow.experiment_id == experiment_id)
            )
            return int(found.scalar_one())
        if self.dialect == "sqlite":
            sql, args = "SELECT count(*) FROM samples WHERE experiment_id = ?", (experiment_id,)
            return int((await self.driver.execute_fetchall(sql, args))[0][0])
        sql = "SELECT count(*) FROM samples WHERE experiment_id = $1"
        return int(await self.driver.fetchval(sql, experiment_id))

    async def plain_page(
        self, experiment_id: int, order: str, limit: int, offset: int
    ) -> tuple[int | None, list[Any]] | None:
        """``(version, rows)``: a page of every sample in id order and the samples version
        it was read at; None: take the general path. (The inner query skips the offset on the
        covering (experiment_id, id) index, not on rows.)"""
        if self.driver is None:
            return None
        direction = "DESC" if order == "desc" else "ASC"
        inner = f"SELECT id FROM samples WHERE experiment_id = {{e}} ORDER BY id {direction}"
        inner += " LIMIT {limit} OFFSET {offset}"
        if self.dialect == "sqlite":
            ids = "IN (" + inner.format(e="?", limit="?", offset="?") + ")"
            sql = _WITH_VERSION.format(fields=_FIELDS, ids=ids, experiment="?")
            raw = await self.driver.execute_fetchall(
                f"{sql} ORDER BY s.id {direction}", (experiment_id, limit, offset, experiment_id)
            )
        else:  # ANY(ARRAY(...)): the page's ids once, then primary-key reads
            ids = "= ANY(ARRAY(" + inner.format(e="$1", limit="$2", offset="$3") + "))"
            sql = _WITH_VERSION.format(fields=_FIELDS, ids=ids, experiment="$1")
            raw = await self.driver.fetch(
                f"{sql} ORDER BY s.id {direction}", experiment_id, limit, offset
            )
        return self._versioned(raw)

    async def rows(self, experiment_id: int, ids: list[int]) -> tuple[int | None, list[Any]]:
        """``(version, rows)``: the samples ``ids`` (in no particular order) and the samples
        version they were read at (None: no such experiment)."""
        if self.driver is None:
            found = list(await self.conn.execute(_PAGE.where(SampleRow.id.in_(ids))))
            # read after the rows: if it is the version asked for, so were they (it only grows)
            return await self.version(experiment_id), found
        if self.dialect == "sqlite":
            marks = "IN (" + ", ".join("?" * len(ids)) + ")"
            sql = _WITH_VERSION.format(fields=_FIELDS, ids=marks, experiment="?")
            raw = await self.driver.execute_fetchall(sql, [*ids, experiment_id])
        else:
            sql = _WITH_VERSION.format(fields=_FIELDS, ids="= ANY($2::int[])", experiment="$1")
            raw = await self.driver.fetch(sql, experiment_id, ids)
        return self._versioned(raw)

    async def ids_and_page(
        self, ids_sql: str, args: list[Any], experiment_id: int, limit: int, offset: int
    ) -> tuple[int | None, array, list[Any]]:
        """PostgreSQL: ``(version, ids, rows)``: every id ``ids_sql`` orders (one ``int[]``,
        see ``_pg_ordered_ids``), the rows of the page ``offset``/``limit`` of them, and the
        samples version, all read by one statement (one snapshot). The first row carries the
        version and the ids, the others the page's rows."""
        n = len(args)
        sql = _IDS_AND_PAGE.format(
            ids=ids_sql,
            fields=_FIELDS,
            nulls=", ".join(["NULL"] * len(_FIELD_NAMES)),
            e=f"${n + 1}",
            first=f"${n + 2}",
            last=f"${n + 3}",
        )
        raw = await self.driver.fetch(sql, *args, experiment_id, offset + 1, offset + limit)
        head = next((r for r in raw if r[0]), None)
        if head is None:  # no such experiment
            return None, array("q"), []
        _, rows = self._versioned([(None, *tuple(r)[3:]) for r in raw if not r[0]])
        return head[1], array("q", head[2] or ()), rows

    def _versioned(self, raw: list[Any]) -> tuple[int | None, list[Any]]:
        version = raw[0][0] if raw else None
        rows = [r[1:] for r in raw if r[1] is not None]
        return version, [(*r[:6], _json(r[6]), *r[7:11], _json(r[11])) for r in rows]


def _in_order(ids: array, rows: list[Any]) -> list[Any]:
    """``rows`` (read in no particular order) in the order of ``ids``, their first columns."""
    by_id = {row[0]: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning(
            "vlmhb-server: preparing a samples page order failed", exc_info=task.exception()
        )


def _sqlite_ids_sql(statement: Any, dialect: Any) -> tuple[str, list[Any]] | None:
    """``statement`` (``SELECT id ... ORDER BY``) as SQLite SQL returning every id in one
    row, with its arguments; None for a construct this shortcut does not know.

    One row holding every id: a row per id would hand the GIL back and forth with the event
    loop once per row (sqlite3 releases it around each step), and while the loop is busy
    serving pages each hand-back waits up to the 5 ms switch interval; it also skips
    SQLAlchemy's result objects. (The subquery's ORDER BY holds: SQLite never flattens an
    ordered subquery into an aggregate.)
    """
    found = _driver_sql(statement, dialect)
    if found is None:
        return None
    return f"SELECT json_group_array(id) FROM ({found[0]})", found[1]


def _driver_sql(statement: Any, dialect: Any) -> tuple[str, list[Any]] | None:
    """``statement`` compiled for the driver: its SQL and positional arguments, processed
    as SQLAlchemy would (JSON paths); None for a construct this does not know."""
    try:
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        values = compiled.construct_params()
        process = compiled._bind_processors  # what SQLAlchemy applies before executing
        args = [
            process[name](values[name]) if name in process else values[name]
            for name in compiled.positiontup or ()
        ]
    except Exception:
        return None
    return str(compiled), args


def _ordered_ids(where: list[Any], ordering: list[Any]) -> Any:
    """``SELECT id ... WHERE ... ORDER BY ...``: the ids of one query's rows, in its order."""
    return select(SampleRow.id).where(*where).order_by(*ordering)


def _pg_ordered_ids(where: list[Any], ordering: list[Any]) -> Any:
    """The same ids as ``_ordered_ids``, as one ``int[]`` value in one row, for PostgreSQL.

    A row per id costs asyncpg a record object each: 100k ids took ~150-300 ms on the client
    for a query that ran in ~15 ms on the server, paid by the first request of each query in
    every server process. One array decodes in a few ms. The order is the aggregate's own
    ``ORDER BY``, which PostgreSQL guarantees (a sorted subquery's order it does not)."""
    ids = func.array_agg(aggregate_order_by(SampleRow.id, *ordering)).label("ids")
    return select(ids).where(*where)


async def _select_ids(conn: Any, where: list[Any], ordering: list[Any]) -> array:
    """The ordered ids of the rows ``where`` selects, read on a pooled connection (on the
    driver's own connection where possible: no SQLAlchemy row objects for 100k ids)."""
    statement = _ordered_ids(where, ordering)
    if conn.dialect.driver == "aiosqlite":
        found = _sqlite_ids_sql(statement, conn.dialect)
        if found is not None:
            driver = (await conn.get_raw_connection()).driver_connection
            rows = await driver.execute_fetchall(*found)
            return array("q", orjson.loads(rows[0][0]))
    elif conn.dialect.driver == "asyncpg":
        found = _driver_sql(_pg_ordered_ids(where, ordering), conn.dialect)
        if found is not None:
            driver = (await conn.get_raw_connection()).driver_connection
            return array("q", await driver.fetchval(found[0], *found[1]) or ())
    result = await conn.execute(statement)
    return array("q", result.scalars())


def _json(value: Any) -> Any:
    return json_loads(value) if isinstance(value, str | bytes) else value


def render(experiment_id: int, total: int, rows: list[Any]) -> bytes:
    """The response body: ``{"total", "items"}`` (see the API table in the README)."""
    return orjson.dumps({"total": total, "items": items(experiment_id, rows)})


def items(experiment_id: int, rows: list[Any]) -> list[dict[str, Any]]:
    """Page rows (tuples in ``_PAGE``'s column order) as the API's sample objects."""
    items = []
    for row in rows:
        (row_id, run, sample_id, question, reference, answer) = row[:6]
        (scores, latency_s, image_path, doc_class, question_type, meta) = row[6:]
        meta = dict(meta or {})
        images = meta.get("images") or []
        base = f"/api/experiments/{experiment_id}/samples/{row_id}/image"
        if len(images) > 1:
            meta["image_urls"] = [f"{base}?i={i}" for i in range(len(images))]
        items.append(
            {
                "id": row_id,
                "run": run,
                "sample_id": sample_id,
                "question": question,
                "reference": reference,
                "answer": answer,
                "scores": scores or {},
                "latency_s": latency_s,
                "doc_class": doc_class,
                "question_type": question_type,
                "image_url": base if (images or image_path) else None,
                "metadata": meta,
            }
        )
    return items
