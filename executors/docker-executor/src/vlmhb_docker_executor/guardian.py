"""A model server's container must not outlive the run that started it, even a SIGKILLed one.

A container is not a child of the run: the engine keeps it running whatever happens to the
run, and ``--parent-pid`` cannot work inside it (the host's pids are invisible there). So each
service container gets a guardian: a small host process (``_guard.py``, run by path so that it
starts fast and imports only the docker SDK) started with ``PR_SET_PDEATHSIG`` = SIGTERM, so
the kernel signals it when the run dies, however it dies. The guardian then removes the
container and exits. It runs in its own session, so a kill of the run's process group (a
terminal, a job scheduler) does not take it down before it acts. It also exits by itself once
the container is gone (stopped normally).

No signal may be lost while the guardian starts: it is born with SIGTERM, SIGINT and SIGHUP
blocked (a pending one waits), unblocks them once its handler is in place, and says "armed" on
a pipe; ``launch`` returns only then, and the container is started after that.
``PR_SET_PDEATHSIG`` fires when the parent *thread* ends, so guardians are started from one
long-lived launcher thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from .containers import DockerExecutorError

_PR_SET_PDEATHSIG = 1
_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlmhb-guardian-launcher")
GUARD_SCRIPT = Path(__file__).with_name("_guard.py")
GUARDED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def _arm() -> None:  # runs in the child between fork and exec
    signal.pthread_sigmask(signal.SIG_BLOCK, GUARDED_SIGNALS)  # kept across exec: none lost
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except OSError:
            pass


def launch(
    container_id: str, docker_host: str | None, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start the guardian of ``container_id`` for this process; return once it is armed."""
    ready_read, ready_write = os.pipe()
    argv = [
        sys.executable,
        str(GUARD_SCRIPT),
        container_id,
        "--parent-pid",
        str(os.getpid()),
        "--ready-fd",
        str(ready_write),
    ]
    if docker_host:
        argv += ["--docker-host", docker_host]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group kill of the run must leave it alive to act
            preexec_fn=_arm,
            pass_fds=(ready_write,),
        )

    try:
        process = _LAUNCHER.submit(start).result()
    finally:
        os.close(ready_write)
    with os.fdopen(ready_read, "rb") as ready:
        said = ready.readline()  # "armed", or end of file if it died first
    if said.strip() != b"armed":
        process.kill()
        process.wait()
        raise DockerExecutorError(
            f"the guardian of container {container_id[:12]} did not start (exit "
            f"{process.returncode}); its output is in the server log"
        )
    return process
