"""Which server process supervises the experiment queue: the holder of a file lock.

``vlmhb-server --workers N`` runs N processes that all answer the API, but exactly one may
claim queued experiments, watch their worker processes and finalize them (two would start an
experiment twice). Each process tries ``flock(LOCK_EX | LOCK_NB)`` on
``<workdir>/server/supervisor.lock``; the holder supervises, the others try again every
``retry_s``. The kernel drops the lock when its holder dies in any way (``kill -9`` included),
so another process, or the one started in its place, takes over within ``retry_s`` and adopts
the running experiments (``Supervisor.recover``). The file holds the leader's pid, for people
and tests. The lock's descriptor is not inherited by experiment workers (Python opens files
non-inheritable), so a worker that outlives the server never holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class SupervisorLock:
    """An exclusive, non-blocking ``flock`` on one file; the holder supervises the queue."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it (now or already)."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> int | None:
        """The pid written by the current holder (None when nobody ever held it)."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None
