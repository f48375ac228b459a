"""Samples pages served from a server process's memory on PostgreSQL, kept current by
LISTEN/NOTIFY (``vlmhb_server.page_cache``), against a real PostgreSQL.

What a user relies on: a page asked again is the same page (and costs the database nothing
while the process listens); a re-import or a deletion by any other process shows on the next
page asked once its notification is in; and a change committed while the process was not
listening (its connection terminated, the database restarted) is never missed. On SQLite
nothing is served from memory: the same bodies, read each time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from helpers import experiment_with_samples, reimport_samples, until
from sqlalchemy import text
from vlmhb_server import page_cache, search
from vlmhb_server.db import Database
from vlmhb_server.page_cache import CHANNEL, PageCache, VersionWatch
from vlmhb_server.samples import NotFound, Query, SamplesService, render


def _samples(count: int, tag: str = "") -> list[dict[str, Any]]:
    return [
        {
            "run": "model__ds__p",
            "sample_id": f"doc{i:03d}{tag}",
            "question": "What is the surname?",
            "reference": f"IVANOV {i}",
            "answer": f"Ivanov {i}",
            "scores": {"anls": (i * 37 % 101) / 100},
            "latency_s": (i * 13 % 17) / 10,
            "image_path": None,
            "doc_class": "passport",
            "question_type": "name",
            "metadata": {},
        }
        for i in range(count)
    ]


def _sample_ids(body: bytes) -> list[str]:
    return [item["sample_id"] for item in orjson.loads(body)["items"]]


@pytest.fixture
async def service(database: Database) -> AsyncIterator[SamplesService]:
    """A samples service as a server process starts it (listening, on PostgreSQL)."""
    found = SamplesService(database.engine)
    found.backend = await search.detect(database.engine)
    found.start_watching()
    if found.watch is not None:
        await until(lambda: found.watch.listening, "listening")  # type: ignore[union-attr]
    yield found
    await found.stop_watching()
    found.close()


def _count_reads(service: SamplesService, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many pages ``service`` read from the database (a one-item list, counting)."""
    reads = [0]
    read = service._read

    async def counted(*args: Any) -> Any:
        reads[0] += 1
        return await read(*args)

    monkeypatch.setattr(service, "_read", counted)
    return reads


async def test_a_page_comes_from_memory_until_another_process_changes_it(
    database: Database, database_url: str, service: SamplesService, monkeypatch: pytest.MonkeyPatch
) -> None:
    exp_id = await experiment_with_samples(database, _samples(30))
    by_latency = Query(sort="latency_s", order="desc")
    total, rows = await service.page(exp_id, by_latency, 10, 5)
    reads = _count_reads(service, monkeypatch)
    first = await service.body(exp_id, by_latency, 10, 5)
    assert first == render(exp_id, total, rows)
    assert await service.body(exp_id, by_latency, 10, 5) == first
    if database.engine.dialect.name == "sqlite":
        assert service.watch is None and reads == [2]  # read each time
        return
    assert reads == [1]  # the second from memory

    await reimport_samples(database_url, exp_id, renewed := _samples(12, tag="new"))
    await until(lambda: service.watch.version(exp_id) is None, "notified")  # type: ignore[union-attr]
    body = orjson.loads(await service.body(exp_id, by_latency, 10, 5))
    expected = sorted(renewed, key=lambda s: (-s["latency_s"], renewed.index(s)))[5:15]
    assert body["total"] == 12
    assert [i["sample_id"] for i in body["items"]] == [s["sample_id"] for s in expected]

    async with database.session() as session:  # deleted, cascading to its samples
        await session.execute(text("DELETE FROM experiments WHERE id = :e"), {"e": exp_id})
        await session.commit()
    await until(lambda: service.watch.version(exp_id) is None, "notified")  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await service.body(exp_id, by_latency, 10, 5)


async def test_a_change_made_while_not_listening_is_not_missed(
    database: Database, database_url: str, service: SamplesService
) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serves no page from memory")
    watch = service.watch
    assert watch is not None
    exp_id = await experiment_with_samples(database, _samples(20))
    assert _sample_ids(await service.body(exp_id, Query(), 5, 0))[0] == "doc000"
    assert watch.version(exp_id) is not None  # held as current: served from memory next

    # listening again waits until the change below is committed, so its notification is lost
    reconnect = asyncio.Event()
    connect = watch._connect

    async def held_back() -> Any:
        await reconnect.wait()
        return await connect()

    watch._connect = held_back
    async with database.engine.connect() as conn:  # an administrator ends the session
        ended = await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
            )
        )
        assert ended.scalars().all() == [True]
    await until(lambda: not watch.listening, "listening stopped")
    await reimport_samples(database_url, exp_id, _samples(6, tag="new"))
    reconnect.set()
    await until(lambda: watch.listening, "listening again")
    assert _sample_ids(await service.body(exp_id, Query(), 5, 0))[0] == "doc000new"
    assert _sample_ids(await service.body(exp_id, Query(), 5, 0))[0] == "doc000new"


def test_a_notification_heard_during_a_read_keeps_its_version_from_being_held() -> None:
    """The race no timing can stage: the read's snapshot was taken before a re-import
    committed, and its notification arrived before the read's answer."""

    async def never(*_: Any) -> Any:
        raise AssertionError("not connected in this test")

    watch = VersionWatch(never, never)
    assert watch.ticket(7) is None  # not listening: nothing can be held
    watch.listening = True
    ticket = watch.ticket(7)
    watch._heard(None, 1, CHANNEL, "7")
    assert not watch.confirm(7, 3, ticket) and watch.version(7) is None
    ticket = watch.ticket(7)
    watch._heard(None, 1, CHANNEL, "8")  # another experiment's change
    assert watch.confirm(7, 4, ticket) and watch.version(7) == 4
    watch._heard(None, 1, CHANNEL, "7")
    assert watch.version(7) is None
    ticket = watch.ticket(7)
    assert watch.confirm(7, 5, ticket)
    watch._heard(None, 1, CHANNEL, "probe 123")  # another process's probe: no change
    assert watch.version(7) == 5
    watch._heard(None, 1, CHANNEL, "not an id")  # not ours to parse: forget everything
    assert watch.version(7) is None and not watch.confirm(7, 5, ticket)


async def test_a_connection_that_hears_no_notification_is_not_trusted(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a connection pooler in transaction mode LISTEN succeeds and nothing is ever
    heard: pages must then be read every time, never served from memory."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serves no page from memory")
    monkeypatch.setattr(page_cache, "PROBE_S", 0.3)
    service = SamplesService(database.engine)
    service.backend = await search.detect(database.engine)

    async def lost_on_the_way(_payload: str) -> None:
        """What such a pooler does to the probe: it runs, and no listener hears it."""

    monkeypatch.setattr(service, "_notify", lost_on_the_way)
    service.start_watching()
    try:
        exp_id = await experiment_with_samples(database, _samples(10))
        reads = _count_reads(service, monkeypatch)
        await asyncio.sleep(1.0)  # past the probe's time: unproven, so not listening
        assert service.watch is not None and not service.watch.listening
        for _ in range(3):
            await service.body(exp_id, Query(), 5, 0)
        assert reads == [3]
    finally:
        await service.stop_watching()


def test_the_page_cache_keeps_its_byte_bound_least_recently_used_first_out() -> None:
    cache = PageCache(max_bytes=100)
    cache.put(("a",), b"x" * 40)
    cache.put(("b",), b"x" * 40)
    assert cache.get(("a",)) is not None  # now the most recently used
    cache.put(("c",), b"x" * 40)
    assert cache.get(("b",)) is None and cache.get(("a",)) and cache.get(("c",))
    assert cache.held == 80
    cache.put(("huge",), b"x" * 101)  # larger than the bound: not kept, nothing dropped
    assert cache.get(("huge",)) is None and cache.held == 80
