"""Running one container to its end: create, start, stream its lines, wait, always remove.

Shared by stage runs and environment builds. Containers run on the host's network (a private
engine has no bridge), as the host user (outputs are the user's files), with an init process
(signals reach the program, zombies are reaped), and are removed whatever happens: failure,
timeout, or an exception in the caller (Ctrl-C).
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import DeviceRequest

log = logging.getLogger(__name__)

TIMEOUT_EXIT_CODE = 124
"""Exit code reported for a stage killed at its timeout (as the local executor does)."""
NOT_FOUND_EXIT_CODE = 127
"""Exit code reported when the command does not exist in the container (as shells do)."""
STAGE_LABEL = "org.vlmhyperbench.stage"
ROLE_LABEL = "org.vlmhyperbench.role"
"""Labels on every container this executor creates (role: ``stage``, ``install``, ``service``)."""
MERGE_STREAMS = ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh"]
"""Prefix of every stage command: stderr joins stdout inside the container, so lines keep the
order they were written in (docker reads the two pipes separately and may reorder them)."""


class DockerExecutorError(RuntimeError):
    """The engine or the image is missing, a mount does not exist, or the engine refused the
    container (e.g. GPUs asked for where none can be given)."""


class CommandNotFound(DockerExecutorError):
    """The engine could not execute the stage's program."""


def gpu_requests(gpus: int | None) -> list[DeviceRequest]:
    """Docker device requests for ``gpus`` GPUs (``-1``: all; ``None`` or 0: none)."""
    if gpus is None or gpus == 0:
        return []
    if gpus < -1:
        raise ValueError(f"gpus must be a positive count, -1 (all) or None, got {gpus}")
    return [DeviceRequest(count=gpus, capabilities=[["gpu"]])]


def host_user() -> str | None:
    return f"{os.getuid()}:{os.getgid()}" if hasattr(os, "getuid") else None


def run_to_end(
    client: docker.DockerClient,
    image: str,
    *,
    command: list[str],
    name: str,
    labels: dict[str, str],
    volumes: dict[str, dict[str, str]],
    environment: dict[str, str],
    working_dir: str,
    device_requests: list[DeviceRequest],
    emit: Callable[[str], None],
    network_mode: str = "host",
    timeout_s: float | None = None,
    kill_grace_s: float = 5.0,
    what: str | None = None,
) -> int:
    """Create, start, stream and wait for one container; it is removed whatever happens.

    Returns the exit code (``TIMEOUT_EXIT_CODE`` after a timeout, with a line saying so).
    """
    try:
        container = client.containers.create(
            image,
            command=command,
            name=name,
            labels=labels,
            volumes=volumes,
            environment=environment,
            working_dir=working_dir,
            device_requests=device_requests or None,
            network_mode=network_mode,
            user=host_user(),
            init=True,
            stdin_open=False,
            tty=False,
        )
    except ImageNotFound as exc:
        raise DockerExecutorError(f"the Docker engine has no image {image!r}") from exc
    timed_out = threading.Event()
    timer = None
    try:
        try:
            container.start()
        except APIError as exc:
            raise start_error(exc, what or name, device_requests) from exc
        if timeout_s is not None:
            timer = threading.Timer(
                timeout_s, _stop, args=(container, timed_out, max(1, int(kill_grace_s)))
            )
            timer.daemon = True
            timer.start()
        splitter = LineSplitter(emit)
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            splitter.feed(chunk)
        exit_code = int(container.wait()["StatusCode"])
        # The engine may end a follow stream before logging the output written just before
        # the exit (a last line without a newline, typically): catch up from the complete
        # log, of which the streamed bytes are the beginning.
        skip = splitter.received
        for chunk in container.logs(stream=True, follow=False, stdout=True, stderr=True):
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            splitter.feed(chunk[skip:])
            skip = 0
        splitter.close()
    finally:
        if timer is not None:
            timer.cancel()
        remove_container(container)
    if timed_out.is_set():
        emit(
            f"[vlmhb] stage {what or name!r} timed out after {timeout_s:g} s "
            "and its container was stopped"
        )
        return TIMEOUT_EXIT_CODE
    return exit_code


def _stop(container: Any, flag: threading.Event, grace: int) -> None:
    """SIGTERM the stage, SIGKILL after the grace (docker stop)."""
    flag.set()
    try:
        container.stop(timeout=grace)
    except (NotFound, APIError):
        pass  # it ended on its own meanwhile


class LineSplitter:
    """Turns byte chunks into lines (UTF-8, invalid bytes replaced) handed to ``emit``."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.received = 0
        """Bytes fed so far."""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        self._pending += self._decoder.decode(chunk)
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self.emit(line.rstrip("\r"))

    def close(self) -> None:
        self._pending += self._decoder.decode(b"", final=True)
        if self._pending:
            self.emit(self._pending.rstrip("\r"))
        self._pending = ""


def start_error(exc: APIError, what: str, device_requests: list[DeviceRequest]) -> Exception:
    """The engine's refusal to start a container, said in terms of the stage or service."""
    text = str(exc.explanation or exc)
    if "executable file not found" in text or "no such file or directory" in text:
        return CommandNotFound(text)
    if device_requests and ("device driver" in text or "gpu" in text.lower()):
        count = device_requests[0].get("Count")
        wanted = "all GPUs" if count == -1 else f"{count} GPU(s)"
        return DockerExecutorError(
            f"{what!r} asks for {wanted}, but the Docker engine cannot provide them "
            f"(install the NVIDIA Container Toolkit and restart dockerd): {text}"
        )
    return DockerExecutorError(f"the Docker engine refused to start {what!r}: {text}")


def remove_container(container: Any) -> None:
    """Force-remove; gone already or being removed is fine, anything else is logged."""
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except APIError as exc:
        if "in progress" not in str(exc):
            log.warning("could not remove container %s: %s", container.name, exc)


def slug(name: str) -> str:
    """A container-name-safe form of a stage or service name."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "-", name).strip("-.") or "stage"
    return cleaned[:40]
