"""Live events for WebSocket clients: one database poller per watched experiment, fanned out
to every client through its own bounded buffer.

Workers write events into the database (the one place every process can reach, which also
survives a server restart); a poller per experiment reads new rows once and hands them to each
client's buffer without ever waiting on a client. A client whose buffer fills up (it reads
slower than the run produces) is disconnected with code 1013 and the last ``seq`` it got, and
may reconnect with ``?after=<seq>``: the run is never slowed, and no client holds unbounded
memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from sqlalchemy import select

from . import store
from .db import Database, EventRow

log = logging.getLogger("vlmhb_server")


class Client:
    """One WebSocket's view of a feed: a bounded buffer and a wake-up flag."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: deque[dict[str, Any]] = deque()
        self.ready = asyncio.Event()
        self.overflow = False
        self.start = 0
        self.task: asyncio.Task[Any] | None = asyncio.current_task()
        self.sending = False

    def push(self, payload: dict[str, Any]) -> None:
        if self.overflow:
            return
        if len(self.items) >= self.limit:
            self.overflow = True
            self.items.clear()
            if self.sending and self.task is not None:
                self.task.cancel()  # stuck writing to a client that does not read
        else:
            self.items.append(payload)
        self.ready.set()


class _Feed:
    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.last = 0
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.lock = asyncio.Lock()


class FeedHub:
    def __init__(self, database: Database, poll_interval_s: float, queue_size: int) -> None:
        self.database = database
        self.poll_interval_s = poll_interval_s
        self.queue_size = queue_size
        self.feeds: dict[int, _Feed] = {}

    async def subscribe(self, experiment_id: int) -> Client:
        """A client that gets every event after ``client.start`` (replay up to it from the
        database first)."""
        feed = self.feeds.setdefault(experiment_id, _Feed())
        async with feed.lock:
            if feed.task is None or feed.task.done():
                async with self.database.session() as session:
                    feed.last = await store.last_seq(session, experiment_id)
                feed.task = asyncio.create_task(self._poll(experiment_id, feed))
            client = Client(self.queue_size)
            client.start = feed.last
            feed.clients.add(client)
        return client

    def unsubscribe(self, experiment_id: int, client: Client) -> None:
        feed = self.feeds.get(experiment_id)
        if feed is not None:
            feed.clients.discard(client)
            feed.wake.set()

    def notify(self, experiment_id: int) -> None:
        """Something was written for this experiment in this process: look now."""
        feed = self.feeds.get(experiment_id)
        if feed is not None:
            feed.wake.set()

    async def close(self) -> None:
        for feed in self.feeds.values():
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feed.task
        self.feeds.clear()

    async def _poll(self, experiment_id: int, feed: _Feed) -> None:
        # at most half a client's buffer per read, so a burst never overflows one that keeps up
        batch = max(1, min(500, self.queue_size // 2))
        while feed.clients:
            try:
                async with self.database.session() as session:
                    rows = (
                        await session.execute(
                            select(EventRow.seq, EventRow.payload)
                            .where(
                                EventRow.experiment_id == experiment_id, EventRow.seq > feed.last
                            )
                            .order_by(EventRow.seq)
                            .limit(batch)
                        )
                    ).all()
            except Exception:  # the database is busy or away: clients wait, nothing is lost
                log.exception("vlmhb-server: reading events of experiment %s", experiment_id)
                await asyncio.sleep(1.0)
                continue
            for seq, payload in rows:
                item = {**payload, "seq": seq}
                for client in list(feed.clients):
                    client.push(item)
                feed.last = seq
            if len(rows) < batch:
                feed.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(feed.wake.wait(), self.poll_interval_s)
            else:
                await asyncio.sleep(0)  # let clients drain before the next read
        feed.task = None
