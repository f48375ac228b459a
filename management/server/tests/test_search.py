"""Samples pages and text search against real SQLite (FTS5 trigram) and PostgreSQL (pg_trgm):
the same answers as a plain scan would give, caches that follow re-imports."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from helpers import experiment_with_samples
from sqlalchemy import text
from vlmhb_server import samples as samples_module
from vlmhb_server import search, store
from vlmhb_server.db import Database
from vlmhb_server.samples import NotFound, Query, SamplesService, render

QUESTIONS = [
    "What is the surname?",
    "What is the date of birth?",
    "Какая фамилия?",
    "Number of the SNILS (11 digits)",
    "100% sure? field_name with under_score",
]


def _samples(count: int, tag: str = "") -> list[dict[str, Any]]:
    return [
        {
            "run": f"model{i % 2}__ds__p",
            "sample_id": f"doc{i:04d}{tag}",
            "question": QUESTIONS[i % len(QUESTIONS)],
            "reference": f"ИВАНОВ {i}" if i % 3 == 0 else f"value {i}",
            "answer": f"Ivanov {i}" if i % 4 == 0 else None,
            "scores": {"anls": (i * 37 % 101) / 100, "exact_match": i % 2 == 0},
            "latency_s": (i * 13 % 17) / 10,
            "image_path": None,
            "doc_class": ("passport", "snils", "invoice")[i % 3],
            "question_type": "name",
            "metadata": {"lang": "ru" if i % 3 else "en"},
        }
        for i in range(count)
    ]


def _expected(samples: list[dict[str, Any]], q: str, run: str | None = None) -> list[str]:
    """What a case-insensitive literal substring search returns, computed in Python (ASCII
    case folding only: PostgreSQL's ILIKE under the C locale folds nothing else)."""
    needle = q.lower()
    found = []
    for s in samples:
        fields = (s["question"], s["answer"], s["reference"], s["sample_id"])
        if run and s["run"] != run:
            continue
        if any(f is not None and needle in f.lower() for f in fields):
            found.append(s["sample_id"])
    return found


async def _ids(service: SamplesService, exp_id: int, query: Query, limit: int = 1000) -> list[str]:
    total, rows = await service.page(exp_id, query, limit, 0)
    assert total == len(rows)
    return [row[2] for row in rows]


async def test_text_search_uses_an_index_and_matches_a_scan(database: Database) -> None:
    samples = _samples(120)
    exp_id = await experiment_with_samples(database, samples)
    other = await experiment_with_samples(
        database, _samples(30, tag="x")
    )  # must never leak into exp_id
    service = SamplesService(database.engine)
    service.backend = await search.detect(database.engine)
    expected_backend = {"sqlite": search.FTS5, "postgresql": search.TRIGRAM}
    assert service.backend == expected_backend[database.engine.dialect.name]
    scan = SamplesService(database.engine)  # the fallback every backend has
    scan.backend = search.SCAN
    # SQLite: the same queries through aiosqlite's thread, not the event loop's own connection
    threaded = SamplesService(database.engine)
    threaded.backend = service.backend
    threaded._inline_reads = lambda: None  # type: ignore[method-assign]
    cases = [
        "surname",  # question
        "SURNAME?",  # case-insensitive
        "ivanov 4",  # answer, substring of "Ivanov 40", "Ivanov 44"...
        "doc001",  # sample id
        "ИВАНОВ 3",  # Cyrillic, same case
        "100% sure",  # % is a character, not a wildcard
        "field_name",  # so is _
        "d_te",  # ... which would match "date" as a LIKE pattern
        "11",  # shorter than a trigram: a scan, same semantics
        "a",
        'say "hi"',  # quotes are characters too (no match)
        "nothing like this",
    ]
    for q in cases:
        want = _expected(samples, q)
        got = await _ids(service, exp_id, Query(q=q))
        assert sorted(got) == sorted(want), q
        assert got == [s for s in (x["sample_id"] for x in samples) if s in set(want)], q
        assert await _ids(scan, exp_id, Query(q=q)) == got, q
        assert await _ids(threaded, exp_id, Query(q=q)) == got, q
    run = "model1__ds__p"
    got = await _ids(service, exp_id, Query(q="value", runs=(run,)))
    assert got == _expected(samples, "value", run)
    assert await _ids(service, other, Query(q="doc0001")) == ["doc0001x"]


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "threaded"])
async def test_pages_sort_filter_and_follow_a_reimport(
    database: Database, inline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = _samples(200)
    exp_id = await experiment_with_samples(database, samples)
    service = SamplesService(database.engine)
    service.backend = await search.detect(database.engine)
    if not inline:  # SQLite's reads through aiosqlite's thread (PostgreSQL has no inline path)
        service._inline_reads = lambda: None  # type: ignore[method-assign]
    monkeypatch.setattr(samples_module, "PLAIN_OFFSET", 100)  # 150 is a deep page now
    for _ in range(3):  # from the index while its id list is made (or computed at once)
        total, deep = await service.page(exp_id, Query(), 5, 150)
        assert total == 200
        assert [r[2] for r in deep] == [s["sample_id"] for s in samples[150:155]]
        await asyncio.sleep(0.05)
    assert len(service.cache.entries) == 1  # the deep page's id list, made once
    by_score = Query(sort="anls", order="desc", runs=("model0__ds__p",))
    total, first = await service.page(exp_id, by_score, 10, 0)
    assert total == 100
    _, second = await service.page(exp_id, by_score, 10, 10)
    scores = [r[6]["anls"] for r in first + second]
    assert scores == sorted(scores, reverse=True)
    total, rows = await service.page(exp_id, Query(filters=(("lang", "en"),)), 500, 0)
    assert total == len([s for s in samples if s["metadata"]["lang"] == "en"]) == len(rows)
    total, rows = await service.page(exp_id, Query(), 50, 190)
    assert total == 200 and [r[2] for r in rows] == [s["sample_id"] for s in samples[190:]]
    body = orjson.loads(render(exp_id, total, rows))
    assert body["total"] == 200 and body["items"][0]["sample_id"] == "doc0190"
    # a re-import replaces the samples and bumps the version: no page comes from the cache
    async with database.session() as session:
        await session.execute(text("DELETE FROM samples WHERE experiment_id = :e"), {"e": exp_id})
        await store.insert_samples(session, exp_id, renewed := _samples(7, tag="new"))
        await session.commit()
    total, rows = await service.page(exp_id, Query(), 50, 0)
    assert total == 7 and rows[0][2] == "doc0000new"
    assert await _ids(service, exp_id, Query(q="doc0003new")) == ["doc0003new"]
    total, rows = await service.page(exp_id, by_score, 10, 0)  # its old id list is stale
    model0 = [s for s in renewed if s["run"] == "model0__ds__p"]
    best = max(model0, key=lambda s: s["scores"]["anls"])
    assert total == len(model0) and rows[0][2] == best["sample_id"]
    with pytest.raises(NotFound):
        await service.page(exp_id + 100, Query(), 50, 0)
    # an experiment deleted by another process: its pages are gone, cached or not
    async with database.session() as session:
        await session.execute(text("DELETE FROM samples WHERE experiment_id = :e"), {"e": exp_id})
        await session.execute(text("DELETE FROM events WHERE experiment_id = :e"), {"e": exp_id})
        await session.execute(text("DELETE FROM runs WHERE experiment_id = :e"), {"e": exp_id})
        await session.execute(text("DELETE FROM experiments WHERE id = :e"), {"e": exp_id})
        await session.commit()
    for query in (Query(), by_score):
        with pytest.raises(NotFound):
            await service.page(exp_id, query, 10, 0)


async def test_concurrent_first_asks_share_one_query(database: Database) -> None:
    exp_id = await experiment_with_samples(database, _samples(50))
    service = SamplesService(database.engine)
    pages = await asyncio.gather(
        *(service.page(exp_id, Query(sort="latency_s"), 5, 0) for _ in range(20))
    )
    assert len({tuple(r[0] for r in rows) for _, rows in pages}) == 1
    assert len(service.cache.entries) == 1 and not service.cache.pending
