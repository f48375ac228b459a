"""PostgreSQL restarted under a running server (an upgrade, a failover, an operator): the
connections the server had pooled are closed by it, and no request may fail on one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import helpers
from helpers import ServerProcess, experiment_with_samples
from vlmhb_server.db import Database
from vlmhb_server.migrate import migrate
from vlmhb_server.page_cache import asyncpg_connector


def _samples(count: int, tag: str = "") -> list[dict[str, Any]]:
    return [
        {
            "run": f"model{i % 2}__ds__p",
            "sample_id": f"doc{i:03d}{tag}",
            "question": "What is the total?",
            "reference": f"value {i}",
            "answer": f"value {i if i % 3 else -i}",
            "scores": {"anls": (i * 37 % 101) / 100},
            "latency_s": (i * 13 % 17) / 10,
            "image_path": None,
            "doc_class": "receipt",
            "question_type": "total",
            "metadata": {},
        }
        for i in range(count)
    ]


async def test_a_postgres_restart_fails_no_request(tmp_path: Path) -> None:
    # its own cluster, to restart (other tests share theirs)
    with helpers.throwaway_postgres("vlmhb-pg-restart-") as (root, sock):
        url = f"postgresql+asyncpg://vlmhb@/postgres?host={sock}"
        database = Database(url)
        await migrate(database)
        exp_id = await experiment_with_samples(database, _samples(120))
        await database.dispose()
        server = ServerProcess(tmp_path / "w", url, workers=1).start()
        try:
            base = f"/api/experiments/{exp_id}/samples"
            asked = [
                (base, {"limit": 10}),
                (base, {"limit": 10, "offset": 60}),
                (base, {"limit": 10, "sort": "anls", "order": "desc"}),
                (base, {"limit": 10, "q": "value 1"}),
                (f"/api/experiments/{exp_id}", {}),
                ("/api/experiments", {}),
            ]
            async with server.client() as client:

                async def ask() -> list[Any]:
                    # all at once, twice over: the pool holds several connections to lose
                    answers = await asyncio.gather(
                        *(client.get(path, params=params) for path, params in asked * 2)
                    )
                    assert [a.status_code for a in answers] == [200] * len(answers), [
                        (a.request.url.path, a.status_code, a.text[:200]) for a in answers
                    ]
                    return [a.json() for a in answers]

                before = await ask()
                helpers.restart_postgres(root)
                after = await ask()
                assert _pages(after) == _pages(before)
                # the server listens for samples changes again (a session of its own, seen
                # by the database) and the pages it now holds in memory follow a re-import
                await _until_listening(url)
                await ask()
                await helpers.reimport_samples(url, exp_id, _samples(120, tag="new"))
                for path, params in asked[:4]:
                    await _until_new(client, path, params)
            assert "Traceback" not in server.output(), server.output()[-3000:]
        finally:
            server.stop()


async def _until_listening(url: str) -> None:
    database = Database(url)
    try:
        conn = await asyncpg_connector(database.engine)()
        try:
            sql = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
            await helpers.until(
                lambda: conn.fetchval(sql), "the server listens again", 20, every_s=0.05
            )
        finally:
            await conn.close()
    finally:
        await database.dispose()


async def _until_new(client: Any, path: str, params: dict[str, Any]) -> None:
    """The re-import's rows on this page within seconds (a notification's delivery), and
    from then on, asked again."""

    async def items() -> list[Any]:
        return (await client.get(path, params=params)).json()["items"]

    async def new() -> bool:
        found = await items()
        return bool(found) and all(item["sample_id"].endswith("new") for item in found)

    await helpers.until(new, f"{path} {params}: the re-import's rows", 10, every_s=0.05)
    first = await items()
    assert await new() and await items() == first


def _pages(answers: list[Any]) -> list[Any]:
    """What the samples pages said (the experiment's own record holds times that move)."""
    return [a for a in answers if isinstance(a, dict) and "items" in a]
