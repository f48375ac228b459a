"""The experiment queue and the worker processes that run it.

Workers run in their own session (process group), writing to the database and to files, never
to a pipe of the server: a ``kill -9`` of the server leaves them running, and the next server
adopts them (by pid and command line) or, when they died too, marks their experiments
``interrupted`` and requeues them; the core's per-sample resume makes the rerun cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import select, update

from . import store
from .db import Database, Experiment, redact_url
from .feed import FeedHub
from .settings import DATABASE_URL_ENV, Settings

log = logging.getLogger("vlmhb_server")


class StateError(ValueError):
    """The experiment is not in a state that allows the request (409)."""


def _alive(pid: int | None, experiment_id: int) -> bool:
    """Whether ``pid`` is still this experiment's worker (not a zombie, not a reused pid)."""
    if not pid:
        return False
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: trust the pid
    try:
        at = cmdline.index(b"--experiment")
    except ValueError:
        return False
    return cmdline[at + 1 : at + 2] == [str(experiment_id).encode()]


def _find_worker(experiment_id: int, database_url: str) -> int | None:
    """A live worker of this experiment on this database whose pid was never recorded: the
    supervisor died between starting it and writing its pid (it writes it itself a moment
    later). Without this, the next supervisor would start the experiment a second time."""
    wanted = [b"--experiment", str(experiment_id).encode()]
    url = redact_url(database_url).encode()
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for at in range(len(cmdline) - 1):
            if cmdline[at : at + 2] == wanted and url in cmdline:
                pid = int(entry.name)
                if _alive(pid, experiment_id):
                    return pid
    return None


class Supervisor:
    def __init__(self, settings: Settings, database: Database, feeds: FeedHub) -> None:
        self.settings = settings
        self.database = database
        self.feeds = feeds
        self.watchers: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def worker_command(self) -> list[str]:
        module = self.settings.worker_module
        if module.endswith(".py"):
            return [sys.executable, module]
        return [sys.executable, "-m", module]

    async def start(self) -> None:
        await self.recover()
        self._loop_task = asyncio.create_task(self._loop())

    async def recover(self) -> None:
        """Adopt live workers of a previous server; mark the dead ones' runs interrupted."""
        async with self.database.session() as session:
            running = (
                (await session.execute(select(Experiment).where(Experiment.status == "running")))
                .scalars()
                .all()
            )
            for exp in running:
                if exp.worker_pid is None:
                    exp.worker_pid = _find_worker(exp.id, self.settings.url)
                if _alive(exp.worker_pid, exp.id):
                    assert exp.worker_pid is not None
                    self.watchers[exp.id] = asyncio.create_task(
                        self._watch_pid(exp.id, exp.worker_pid)
                    )
                else:
                    exp.status = "interrupted"
                    exp.error = "the server stopped while it ran; resumable"
                    exp.worker_pid = None
                    await store.append_events(
                        session,
                        exp.id,
                        [
                            {
                                "type": "log",
                                "line": "server restarted: run interrupted",
                                "ts": time.time(),
                            }
                        ],
                    )
            if self.settings.resume_interrupted:
                await session.execute(
                    update(Experiment)
                    .where(Experiment.status == "interrupted")
                    .values(status="queued", cancel_requested=0)
                )
            await session.commit()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                while len(self.watchers) < self.settings.max_concurrent and not self._stopping:
                    claimed = await self._claim()
                    if claimed is None:
                        break
                    await self._spawn(claimed)
            except Exception:  # a database hiccup must not stop the queue for good
                log.exception("vlmhb-server: starting queued experiments failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    def kick(self) -> None:
        self._wake.set()

    async def _claim(self) -> int | None:
        async with self.database.session() as session:
            candidate = (
                await session.execute(
                    select(Experiment.id)
                    .where(Experiment.status == "queued")
                    .order_by(Experiment.id)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if candidate is None:
                return None
            result = await session.execute(
                update(Experiment)
                .where(Experiment.id == candidate, Experiment.status == "queued")
                .values(
                    status="running",
                    started_at=time.time(),
                    finished_at=None,
                    error=None,
                    attempts=Experiment.attempts + 1,
                )
            )
            await session.commit()
            return candidate if result.rowcount == 1 else None

    async def _spawn(self, experiment_id: int) -> None:
        s = self.settings
        folder = s.experiment_dir(experiment_id)
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            *self.worker_command(),
            "--experiment",
            str(experiment_id),
            "--database",  # which database, for finding the worker again; no password
            redact_url(s.url),
            "--workdir",
            str(s.workdir),
            "--registries",
            str(s.registries),
        ]
        if s.mode:
            command += ["--mode", s.mode]
        if s.executor:
            command += ["--executor", s.executor]
        with (folder / "worker.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, DATABASE_URL_ENV: s.url},
            )
        async with self.database.session() as session:
            await session.execute(
                update(Experiment)
                .where(Experiment.id == experiment_id)
                .values(worker_pid=process.pid)
            )
            await session.commit()
            cancelled = (
                await session.execute(
                    select(Experiment.cancel_requested).where(Experiment.id == experiment_id)
                )
            ).scalar_one()
        self.watchers[experiment_id] = asyncio.create_task(self._watch(experiment_id, process))
        if cancelled:  # cancelled while it started: nobody had its pid to signal
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)

    async def _watch(self, experiment_id: int, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        await self._finalize(experiment_id, code)

    async def _watch_pid(self, experiment_id: int, pid: int) -> None:
        while _alive(pid, experiment_id):
            await asyncio.sleep(0.5)
        await self._finalize(experiment_id, None)

    async def _finalize(self, experiment_id: int, code: int | None) -> None:
        """After a worker ends: a run it left 'running' (crash, kill) is closed here."""
        try:
            if not self._stopping:
                async with self.database.session() as session:
                    exp = await session.get(Experiment, experiment_id)
                    if exp is not None and exp.status == "running":
                        log = self.settings.experiment_dir(experiment_id) / "worker.log"
                        if exp.cancel_requested:
                            await store.finish(session, exp, "cancelled", "cancelled by request")
                        else:
                            how = f"with code {code}" if code is not None else "unexpectedly"
                            await store.finish(
                                session, exp, "failed", f"worker exited {how}; see {log}"
                            )
        finally:
            self.watchers.pop(experiment_id, None)
            self.feeds.notify(experiment_id)
            self._wake.set()

    async def cancel(self, experiment_id: int, by: str | None = None) -> str:
        """Cancel a queued run at once; a running one gets SIGTERM (its worker also polls the
        flag, so a run whose pid is not recorded yet stops within seconds too)."""
        async with self.database.session() as session:
            exp = await session.get(Experiment, experiment_id)
            if exp is None:
                raise KeyError(experiment_id)
            if exp.status in ("queued", "interrupted"):
                exp.cancelled_by = by
                if await store.finish_if(
                    session, exp, ("queued", "interrupted"), "cancelled", "cancelled by request"
                ):
                    self.feeds.notify(experiment_id)
                    return "cancelled"
                # the supervisor claimed it meanwhile: cancel it as a running one
            if exp.status != "running":
                raise StateError(f"experiment {experiment_id} is {exp.status}; nothing to cancel")
            exp.cancel_requested = 1
            exp.cancelled_by = by
            pid = exp.worker_pid
            await session.commit()
        if pid and _alive(pid, experiment_id):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        return "cancelling"

    async def resume(self, experiment_id: int, by: str | None = None) -> None:
        async with self.database.session() as session:
            exp = await session.get(Experiment, experiment_id)
            if exp is None:
                raise KeyError(experiment_id)
            if exp.source != "api" or exp.status not in ("interrupted", "failed", "cancelled"):
                raise StateError(
                    f"experiment {experiment_id} is {exp.status} ({exp.source}); only an "
                    "interrupted, failed or cancelled experiment submitted here can be resumed"
                )
            exp.status, exp.cancel_requested, exp.error, exp.finished_at = "queued", 0, None, None
            exp.cancelled_by = None
            line = f"resumed by {by}" if by else "resumed"
            await store.append_events(
                session, exp.id, [{"type": "log", "line": line, "ts": time.time()}]
            )
            await session.commit()
        self.kick()

    async def shutdown(self, grace_s: float = 15.0) -> None:
        """Stop the queue; ask running workers to stop (they mark themselves interrupted)."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        async with self.database.session() as session:
            rows = (
                await session.execute(
                    select(Experiment.id, Experiment.worker_pid).where(
                        Experiment.status == "running"
                    )
                )
            ).all()
        for exp_id, pid in rows:
            if exp_id in self.watchers and pid and _alive(pid, exp_id):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        if self.watchers:
            await asyncio.wait(list(self.watchers.values()), timeout=grace_s)
        for task in self.watchers.values():
            task.cancel()
