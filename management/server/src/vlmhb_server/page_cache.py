"""PostgreSQL: samples pages served from this process's memory while they are known current.

On PostgreSQL every read is a round trip to another process. Under load the wait for it
(behind this process's other requests, and behind the database's backends on the same cores)
was most of a cached page's p99: 72-160 ms under 50 clients on 2 cores, against 35-60 ms for
SQLite, which reads inside the server. A page of one samples version never changes (a
re-import makes a new version), so to serve a page from memory this process only has to know
that its version is still the current one.

So each process LISTENs on ``CHANNEL``, on which a trigger notifies every change of an
experiment's samples version and every deletion of an experiment, whoever writes it
(migration ``0004``; PostgreSQL delivers it when the change commits). A version read while
listening is held as current (``VersionWatch.confirm``) until a notification for its
experiment arrives or the listening connection drops; a notification heard while the read
was under way keeps it from being held at all.

What this gives up, on purpose: between a re-import's commit and the moment its notification
is read here (well under a millisecond on one host, longer only when the event loop is stalled
or the network is slow), a page of the previous version can still be served. Any page asked
after that is the new one. While the listening connection is down (a database restart) no page
is served from memory: each is read and checked as on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .lru import BoundedLRU

log = logging.getLogger("vlmhb_server")

#: the channel migration ``0004``'s trigger notifies (a migration is frozen text: it says
#: the name again), payload: the experiment's id
CHANNEL = "vlmhb_samples"

#: bytes of rendered pages one process keeps (least recently used first out)
MAX_BYTES = 32 * 1024 * 1024

#: seconds between attempts to listen again after the connection is lost (doubling to 5)
RETRY_S = 0.1

#: how long a new listening connection may take to hear the probe it was sent; one that does
#: not is not trusted (and tried again after ``UNPROVEN_RETRY_S``)
PROBE_S = 5.0
UNPROVEN_RETRY_S = 60.0

Ticket = tuple[int, int]


class VersionWatch:
    """Which samples versions this process knows to be current, kept so by LISTEN.

    ``ticket`` before a read and ``confirm`` after it: the version the read saw is held as
    current only when nothing could have changed it unheard meanwhile (the same listening
    connection throughout, no notification for that experiment since the ticket).

    A new listening connection is trusted only once it hears a probe that ``probe`` sends from
    another session: behind a connection pooler in transaction mode (PgBouncer's default)
    LISTEN succeeds but notifications never arrive, and trusting it would serve stale pages.
    """

    def __init__(
        self, connect: Callable[[], Awaitable[Any]], probe: Callable[[str], Awaitable[None]]
    ) -> None:
        self._connect = connect
        self._probe = probe
        self._probing: tuple[str, asyncio.Future[None]] | None = None
        self.listening = False
        #: bumped whenever listening starts or stops: a ticket from before is void
        self.epoch = 0
        #: notifications heard per experiment since listening started
        self.changes: dict[int, int] = {}
        self.current: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._lost()

    def version(self, experiment_id: int) -> int | None:
        """The experiment's samples version if known current, else None."""
        return self.current.get(experiment_id) if self.listening else None

    def ticket(self, experiment_id: int) -> Ticket | None:
        """Taken before a read whose version may be confirmed after it (None: not listening)."""
        if not self.listening:
            return None
        return self.epoch, self.changes.get(experiment_id, 0)

    def confirm(self, experiment_id: int, version: int, ticket: Ticket | None) -> bool:
        """Hold ``version`` (read after ``ticket`` was taken) as current, when no change of
        the experiment can have gone unheard since; returns whether it is held."""
        if ticket is None or ticket != self.ticket(experiment_id):
            return False
        self.current[experiment_id] = version
        return True

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith("probe "):  # ours (or another process's, then ignored)
            if self._probing is not None and payload == self._probing[0]:
                if not self._probing[1].done():
                    self._probing[1].set_result(None)
            return
        try:
            experiment_id = int(payload)
        except ValueError:  # not ours to parse: void every ticket and version, the safe way
            self.epoch += 1
            self.current.clear()
            return
        self.changes[experiment_id] = self.changes.get(experiment_id, 0) + 1
        self.current.pop(experiment_id, None)

    def _lost(self) -> None:
        self.listening = False
        self.epoch += 1
        self.changes.clear()
        self.current.clear()

    async def _listen_forever(self) -> None:
        delay = RETRY_S
        while True:
            try:
                lost = await self._listen()
            except asyncio.CancelledError:
                await self._close()
                raise
            except Exception as exc:  # the database is down or restarting: try again
                log.debug("vlmhb-server: listening for samples changes failed: %s", exc)
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if lost is None:
                log.warning(
                    "vlmhb-server: notifications do not reach this process (a connection "
                    "pooler in transaction mode?): samples pages are read from the database "
                    "each time; trying again in %.0f s",
                    UNPROVEN_RETRY_S,
                )
                await self._close()
                await asyncio.sleep(UNPROVEN_RETRY_S)
                continue
            self.listening = True
            self.epoch += 1
            delay = RETRY_S
            try:
                await lost.wait()
                log.warning(
                    "vlmhb-server: the connection listening for samples changes closed; "
                    "samples pages are read from the database until it listens again"
                )
            finally:
                self._lost()
                await self._close()

    async def _listen(self) -> asyncio.Event | None:
        """A new listening connection, once it has heard a probe (None: it did not); the
        event is set when the connection is closed."""
        lost = asyncio.Event()
        token = f"probe {uuid.uuid4().hex}"
        heard: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def closed(_conn: Any) -> None:
            lost.set()
            if not heard.done():  # closed while probing: a failure to connect, not a pooler
                heard.set_exception(ConnectionError("closed while probing"))

        self._conn = await self._connect()
        self._conn.add_termination_listener(closed)
        await self._conn.add_listener(CHANNEL, self._heard)
        self._probing = (token, heard)
        try:
            await self._probe(token)
            await asyncio.wait_for(heard, PROBE_S)
        except (TimeoutError, asyncio.TimeoutError):
            return None
        finally:
            self._probing = None
            if not heard.done():  # the probe failed: nobody waits for it any more
                heard.cancel()
        return lost

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


class PageCache(BoundedLRU[bytes]):
    """Rendered pages by (experiment, samples version, query, limit, offset), bounded in
    bytes. A key names one version, so an entry is never wrong, only no longer asked for."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(max_bytes)


def asyncpg_connector(engine: Any) -> Callable[[], Awaitable[Any]]:
    """A function opening a new asyncpg connection to ``engine``'s database, outside its pool
    (a listening connection is held for the process's life and must not be one of the pool's)."""
    import asyncpg

    _, kwargs = engine.dialect.create_connect_args(engine.url)
    for key in (
        "async_creator_fn",
        "prepared_statement_cache_size",
        "prepared_statement_name_func",
    ):
        kwargs.pop(key, None)
    return lambda: asyncpg.connect(**kwargs)
