"""Marks the server not ready, with a reason, when the backend hangs or memory runs out.

The orchestrator polls ``/ready``; a backend stuck inside ``generate()`` or a process about
to be OOM-killed should show there before requests pile up, not after.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import psutil

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(
        self,
        *,
        deadline_s: float,
        interval_s: float,
        memory_limit_bytes: int | None,
        gpu_memory_limit_fraction: float,
        resources: Callable[[], dict[str, Any]],
    ) -> None:
        self.deadline_s = deadline_s
        self.interval_s = interval_s
        self.memory_limit_bytes = memory_limit_bytes
        self.gpu_memory_limit_fraction = gpu_memory_limit_fraction
        self._resources = resources
        self._ids = itertools.count()
        self._in_flight: dict[int, tuple[float, int]] = {}
        self.hang_reason: str | None = None
        self.memory_reason: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def reason(self) -> str | None:
        return self.hang_reason or self.memory_reason

    def started(self, batch_size: int) -> int:
        """Register a generate() call; returns a token for :meth:`finished`."""
        token = next(self._ids)
        self._in_flight[token] = (time.monotonic(), batch_size)
        return token

    def finished(self, token: int) -> None:
        self._in_flight.pop(token, None)

    def out_of_memory(self, message: str) -> None:
        self.memory_reason = f"out of memory in generate(): {message}"
        log.error("watchdog: %s", self.memory_reason)

    def check(self) -> None:
        now = time.monotonic()
        oldest = min((start for start, _ in self._in_flight.values()), default=None)
        if oldest is not None and now - oldest > self.deadline_s:
            if self.hang_reason is None:
                self.hang_reason = (
                    f"backend generate() has not returned for {now - oldest:.1f} s "
                    f"(deadline {self.deadline_s:g} s)"
                )
                log.error("watchdog: %s", self.hang_reason)
        elif self.hang_reason is not None:
            log.warning("watchdog: backend answering again")
            self.hang_reason = None
        self._check_memory()

    def _check_memory(self) -> None:
        sample = self._resources()
        reasons = []
        rss = sample.get("process_rss_bytes")
        if (
            self.memory_limit_bytes is not None
            and rss is not None
            and rss > self.memory_limit_bytes
        ):
            reasons.append(f"process memory {rss} bytes over the limit {self.memory_limit_bytes}")
        for gpu in sample.get("gpus", []):
            used, total = gpu["memory_used_bytes"], gpu["memory_total_bytes"]
            if total and used / total > self.gpu_memory_limit_fraction:
                reasons.append(f"GPU {gpu['index']} memory {used}/{total} bytes is nearly full")
        if reasons:
            self.memory_reason = "; ".join(reasons)
        elif self.memory_reason is not None and not self.memory_reason.startswith("out of memory"):
            self.memory_reason = None

    def reset(self) -> None:
        """After a (re)load the old model's troubles no longer apply."""
        self.memory_reason = None
        self.hang_reason = None

    async def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:
                log.exception("watchdog check failed")
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="vlmhb-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class ParentWatch:
    """Is the process that started this server still there? Polled by the server.

    A run killed with SIGKILL cannot stop its model server, and ``PR_SET_PDEATHSIG`` is
    Linux-only (and fires when the forking *thread* ends); polling the parent's pid works
    everywhere. The parent's start time is kept, so a recycled pid does not count as alive,
    and a zombie (killed, not yet reaped) counts as gone.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            raise ValueError(f"parent pid {pid}: no such process") from None
        self._was_parent = os.getppid() == pid

    def alive(self) -> bool:
        if self._was_parent and os.getppid() != self.pid:
            return False  # re-parented: the parent exited
        try:
            return self._process.is_running() and self._process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    async def wait_gone(self, interval_s: float) -> None:
        """Return once the parent is gone (checked every ``interval_s``)."""
        while self.alive():
            await asyncio.sleep(interval_s)
