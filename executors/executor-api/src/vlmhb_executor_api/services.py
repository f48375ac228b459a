"""Model servers as local child processes whose life is tied to the run that started them.

A model server holds a port and, on a GPU machine, the model's memory: one left behind by a
killed run blocks the next. So the child is started with ``PR_SET_PDEATHSIG`` (Linux: the
kernel signals it when its parent dies, even by SIGKILL) and with ``--parent-pid`` for the
wrapper's own watchdog (other platforms and executors). ``PR_SET_PDEATHSIG`` fires when the
parent *thread* ends, so every server is started from one long-lived launcher thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from .specs import ServiceSpec

_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlmhb-launcher")
_PR_SET_PDEATHSIG = 1
SCRUBBED_PREFIXES = ("AWS_", "VLMHB_API_KEY", "VLMHB_SERVER_TOKEN")
"""Variables a model server does not inherit from the run (its secrets come as files)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except OSError:
            pass


def write_secrets(folder: Path, secrets: Mapping[str, SecretStr]) -> dict[str, Path]:
    """Each secret in its own 0600 file; the command refers to it as ``{secret:NAME}``."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = {}
    for name, value in secrets.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value.get_secret_value())
        paths[name] = path
    return paths


def with_secret_files(spec: ServiceSpec) -> ServiceSpec:
    """The spec with its secrets written as 0600 files under ``<log_dir>/secrets`` and each
    ``{secret:NAME}`` in its command replaced by that file's path: the copy holds no secret,
    so it may be serialised and sent to another process (a Ray worker that sees the same
    filesystem) without the key travelling in it."""
    if not spec.secrets:
        return spec
    paths = write_secrets(spec.log_dir / "secrets", spec.secrets)
    values = {f"secret:{name}": str(path) for name, path in paths.items()}
    return spec.model_copy(update={"command": substitute(spec.command, values), "secrets": {}})


def substitute(command: list[str], values: dict[str, str]) -> list[str]:
    """Replace ``{host}``, ``{port}`` and ``{secret:NAME}`` placeholders in argv."""
    out = []
    for arg in command:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg)
    return out


def scrubbed_environment(base: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in base.items() if not k.startswith(SCRUBBED_PREFIXES)}


class LocalService:
    """A server process on 127.0.0.1 in a prepared environment."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, lock: str) -> None:
        self.process = process
        self.base_url = base_url
        self.environment_lock = lock
        self.port = int(base_url.rsplit(":", 1)[1])
        self.started_at = time.time()

    @classmethod
    def start(cls, spec: ServiceSpec, env: Any) -> LocalService:
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        spec = with_secret_files(spec)
        command = substitute(spec.command, {"host": "127.0.0.1", "port": str(port)})
        command += ["--parent-pid", str(os.getpid())]
        program = Path(env.bin_dir) / command[0]
        if program.exists():
            command[0] = str(program)
        process_env = env.activate(scrubbed_environment(dict(os.environ)))
        process_env.update(spec.env)
        log = (spec.log_dir / "server.log").open("ab")
        log.write(f"\n[vlmhb] starting server {spec.name} on port {port}\n".encode())
        log.flush()

        def launch() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=process_env,
                start_new_session=True,  # Ctrl-C reaches the run, which stops it cleanly
                preexec_fn=_die_with_parent,
            )

        try:
            process = _LAUNCHER.submit(launch).result()
        finally:
            log.close()
        return cls(process, f"http://127.0.0.1:{port}", env.lock_text)

    def alive(self) -> bool:
        return self.process.poll() is None

    def record(self) -> dict[str, Any]:
        return {
            "kind": "process",
            "pid": self.process.pid,
            "port": self.port,
            "started_at": self.started_at,
        }

    def stop(self, grace_s: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace_s)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=5)


def stop_process_record(record: dict[str, Any], marker: str = "vlmhb-serve") -> bool:
    """Stop a server left by a dead run, if its pid still runs *our* server; True if stopped.

    The command line is checked so a pid reused by an unrelated process is never signalled.
    """
    pid = int(record.get("pid") or 0)
    if pid <= 0 or not process_matches(pid, marker):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_matches(pid, marker):
        time.sleep(0.1)
    if process_matches(pid, marker):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return True


def process_matches(pid: int, marker: str) -> bool:
    """True if ``pid`` is alive (not a zombie) and its command line mentions ``marker``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


__all__ = [
    "SCRUBBED_PREFIXES",
    "LocalService",
    "free_port",
    "pid_alive",
    "process_matches",
    "scrubbed_environment",
    "stop_process_record",
    "substitute",
    "with_secret_files",
    "write_secrets",
]
