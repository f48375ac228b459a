"""One experiment's worker process: ``python -m vlmhb_server.worker --experiment ID ...``.

Runs the experiment through the core in this process (so a crash of a run never takes the
server down, and a ``kill -9`` of the server never stops a run). Every event goes, in order, to
``<workdir>/server/experiments/<id>/events.jsonl`` (flushed) and to the database, from a writer
thread, so the core's threads never wait on the database. At the end the results are imported
into the database and the final status is written with the ``experiment_finished`` event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from . import core_bridge, store
from .db import Database, Experiment
from .migrate import check_schema
from .settings import DATABASE_URL_ENV

HEARTBEAT_S = 2.0
BATCH = 500


class Stopped(Exception):
    """SIGTERM: a cancel request, or the server shutting down."""


class EventWriter(threading.Thread):
    """The core's subscriber: queues events; a thread writes them to a file and the database."""

    def __init__(self, url: str, experiment_id: int, events_file: Path, stages: dict) -> None:
        super().__init__(name="vlmhb-event-writer", daemon=True)
        self.url = url
        self.experiment_id = experiment_id
        self.events_file = events_file
        self.stages = stages
        self.queue: queue.Queue[Any] = queue.Queue()
        self.error: BaseException | None = None
        self.cancel_seen = False

    def __call__(self, event: dict[str, Any]) -> None:
        self.queue.put(event)

    def close(self) -> None:
        """Write everything queued so far, then stop."""
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise RuntimeError(f"writing events failed: {self.error}") from self.error

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        database = Database(self.url)
        self.events_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.events_file.open("a", encoding="utf-8") as handle:
                done = False
                while not done:
                    batch: list[dict[str, Any]] = []
                    try:
                        item = self.queue.get(timeout=HEARTBEAT_S)
                        while True:
                            if item is None:
                                done = True
                                break
                            batch.append(item)
                            if len(batch) >= BATCH:
                                break
                            item = self.queue.get_nowait()
                    except queue.Empty:
                        pass
                    for event in batch:
                        handle.write(json.dumps(event, ensure_ascii=False) + "\n")
                    handle.flush()
                    loop.run_until_complete(self._write(database, batch))
        except BaseException as exc:  # reported by close(); the run itself goes on
            self.error = exc
        finally:
            loop.run_until_complete(database.dispose())
            loop.close()

    async def _write(self, database: Database, batch: list[dict[str, Any]]) -> None:
        for event in batch:
            store.apply_event(self.stages, event)
        async with database.session() as session:
            exp = await session.get(Experiment, self.experiment_id)
            assert exp is not None
            if batch:
                await store.append_events(session, self.experiment_id, batch)
                exp.stages = json.loads(json.dumps(self.stages))
            exp.heartbeat_at = time.time()
            await session.commit()
            if exp.cancel_requested and not self.cancel_seen:
                # a cancel the server could not signal (the pid was not recorded yet, or it
                # was asked on another server process): stop this run as SIGTERM would
                self.cancel_seen = True
                os.kill(os.getpid(), signal.SIGTERM)


Prepare = Callable[[dict[str, Any], Path, "str | None", Path], core_bridge.Prepared]
Execute = Callable[..., core_bridge.Outcome]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vlmhb_server.worker")
    parser.add_argument("--experiment", type=int, required=True)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV),
        help=f"default: ${DATABASE_URL_ENV} (how the server passes it: never in ps)",
    )
    parser.add_argument("--database", default=None, help="the URL without its password (ps)")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--registries", type=Path, required=True)
    parser.add_argument("--mode", default=None)
    parser.add_argument("--executor", default=None)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error(f"--database-url or ${DATABASE_URL_ENV} is required")
    return args


async def _load(url: str, experiment_id: int) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The experiment's spec, stage states, and whether it was cancelled before it started."""
    database = Database(url)
    try:
        await check_schema(database)
        async with database.session() as session:
            exp = (
                await session.execute(select(Experiment).where(Experiment.id == experiment_id))
            ).scalar_one_or_none()
            if exp is None:
                raise SystemExit(f"no experiment {experiment_id} in the database")
            exp.heartbeat_at = time.time()
            exp.worker_pid = os.getpid()
            await session.commit()
            return dict(exp.spec or {}), dict(exp.stages or {}), bool(exp.cancel_requested)
    finally:
        await database.dispose()


async def _final(
    url: str,
    experiment_id: int,
    status: str,
    error: str | None,
    *,
    import_from: tuple[Path, str] | None = None,
) -> None:
    database = Database(url)
    try:
        if import_from is not None:
            try:
                await store.import_results(database, experiment_id, *import_from)
            except Exception as exc:
                error = (error + "; " if error else "") + f"importing results failed: {exc}"
                status = "failed"
        async with database.session() as session:
            exp = await session.get(Experiment, experiment_id)
            assert exp is not None
            if status == "interrupted":
                exp.status, exp.worker_pid, exp.error = "interrupted", None, error
                await session.commit()
            else:
                if status != "cancelled" and exp.cancel_requested:
                    status = "cancelled"
                await store.finish(session, exp, status, error)
    finally:
        await database.dispose()


async def _cancel_requested(url: str, experiment_id: int) -> bool:
    database = Database(url)
    try:
        async with database.session() as session:
            exp = await session.get(Experiment, experiment_id)
            return bool(exp and exp.cancel_requested)
    finally:
        await database.dispose()


def main(
    argv: list[str] | None = None,
    *,
    prepare: Prepare = core_bridge.prepare,
    execute: Execute = core_bridge.execute,
) -> int:
    args = _parse(argv)
    url, exp_id = args.database_url, args.experiment
    workdir = args.workdir.resolve()
    spec, stages, cancelled_early = asyncio.run(_load(url, exp_id))
    folder = workdir / "server" / "experiments" / str(exp_id)

    def stop(signum: int, frame: Any) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    writer: EventWriter | None = None
    try:
        if cancelled_early:
            raise Stopped("cancelled before it started")
        prepared = prepare(spec, args.registries, args.mode, workdir / "server" / "specs")
        # the plan made now is what runs (code edited since submission changes stage ids);
        # stages it shares with an earlier attempt keep their state
        stages = {
            stage["id"]: stages.get(stage["id"]) or {**stage, "state": "planned"}
            for stage in prepared.stages
        }
        writer = EventWriter(url, exp_id, folder / "events.jsonl", stages)
        writer.start()
        outcome = execute(prepared, workdir, writer, args.executor)
        writer.close()
        writer = None
        error = "; ".join(outcome.errors) or None
        asyncio.run(
            _final(url, exp_id, outcome.status, error, import_from=(workdir, prepared.name))
        )
        return 0
    except Stopped:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if writer is not None:
            writer.close()
        cancelled = asyncio.run(_cancel_requested(url, exp_id))
        status = "cancelled" if cancelled else "interrupted"
        reason = "cancelled by request" if cancelled else "server stopped; resumable"
        asyncio.run(_final(url, exp_id, status, reason))
        return 0
    except core_bridge.InputError as exc:
        if writer is not None:
            writer.close()
        asyncio.run(_final(url, exp_id, "failed", str(exc)))
        return 0
    except Exception as exc:
        traceback.print_exc()
        if writer is not None:
            try:
                writer.close()
            except RuntimeError:
                traceback.print_exc()
        asyncio.run(_final(url, exp_id, "failed", f"{type(exc).__name__}: {exc}"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
