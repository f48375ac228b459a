"""A model server in a container: data read-only, secrets as read-only files, tied to the run.

The server's environment is built in a container of the same image (the injector's
``ContainerBuilder``) and mounted read-only; the data folders are mounted read-only; the
server's folder (model config, log) read-write. Secrets (the API key) are written as 0600
files into ``<log_dir>/secrets`` and each is mounted read-only at ``/run/secrets/<name>``:
``{secret:NAME}`` in the command becomes that path. So the key is neither on a command line
(``ps``) nor in the container's configuration (``docker inspect``).

With host networking (the default) a free host port is picked and the server listens on
127.0.0.1 there; on another network the server listens on all addresses inside the container
and the port is published on the host's 127.0.0.1 only. A guardian process (``guardian``)
removes the container if the run dies without stopping it.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from vlmhb_dependency_injector import Environment
from vlmhb_dependency_injector.container import (
    SYSTEM_PATH,
    host_network_environment,
    source_volumes,
)
from vlmhb_executor_api import ServiceSpec
from vlmhb_executor_api.services import free_port, substitute, write_secrets

from . import guardian
from .containers import (
    MERGE_STREAMS,
    ROLE_LABEL,
    STAGE_LABEL,
    DockerExecutorError,
    LineSplitter,
    gpu_requests,
    host_user,
    remove_container,
    slug,
    start_error,
)

if TYPE_CHECKING:
    from .executor import DockerExecutor

SECRETS_IN_CONTAINER = "/run/secrets"
LOG_FILE = "server.log"


class DockerService:
    """A started model server container (see the module docstring)."""

    def __init__(
        self,
        container: Any,
        base_url: str,
        port: int,
        environment_lock: str,
        guard: subprocess.Popen[bytes] | None,
        log_thread: threading.Thread,
    ) -> None:
        self.container = container
        self.base_url = base_url
        self.port = port
        self.environment_lock = environment_lock
        self.started_at = time.time()
        self._guard = guard
        self._log_thread = log_thread

    @property
    def container_id(self) -> str:
        return str(self.container.id)

    @classmethod
    def start(
        cls, executor: DockerExecutor, spec: ServiceSpec, env: Environment, image: str
    ) -> DockerService:
        if not spec.command:
            raise ValueError(f"service {spec.name!r}: the command must not be empty")
        log_dir = Path(spec.log_dir).resolve()
        log_dir.mkdir(parents=True, exist_ok=True)
        volumes: dict[str, dict[str, str]] = {}
        for mount in spec.mounts:
            path = Path(mount).resolve()
            if not path.exists():
                raise DockerExecutorError(
                    f"service {spec.name!r}: data folder {str(mount)!r} does not exist here"
                )
            volumes[str(path)] = {"bind": str(path), "mode": "ro"}
        volumes.update(source_volumes(env.sources, editable_only=True))
        volumes[str(env.path)] = {"bind": str(env.path), "mode": "ro"}
        volumes[str(log_dir)] = {"bind": str(log_dir), "mode": "rw"}
        values: dict[str, str] = {}
        for name, path in write_secrets(log_dir / "secrets", spec.secrets).items():
            inside = f"{SECRETS_IN_CONTAINER}/{name}"
            volumes[str(path)] = {"bind": inside, "mode": "ro"}
            values[f"secret:{name}"] = inside

        port = free_port()
        host_network = executor.network_mode == "host"
        values.update({"host": "127.0.0.1" if host_network else "0.0.0.0", "port": str(port)})
        command = substitute(spec.command, values)
        if command[0] in ("python", "python3"):
            command[0] = str(env.python)
        elif (env.bin_dir / command[0]).exists():
            command[0] = str(env.bin_dir / command[0])

        environment = {
            "HOME": "/tmp",
            "VIRTUAL_ENV": str(env.path),
            "PATH": f"{env.bin_dir}:{SYSTEM_PATH}",
            "PYTHONUNBUFFERED": "1",
        }
        environment.update(host_network_environment(volumes))
        for name, value in spec.env.items():
            environment[name] = f"{env.bin_dir}:{value}" if name == "PATH" else value
        devices = gpu_requests(spec.gpus or None)
        options: dict[str, Any] = {
            "command": [*MERGE_STREAMS, *command],
            "name": f"vlmhb-{slug(spec.name)}-{uuid.uuid4().hex[:8]}",
            "labels": {**spec.labels, STAGE_LABEL: spec.name, ROLE_LABEL: "service"},
            "volumes": volumes,
            "environment": environment,
            "working_dir": str(log_dir),
            "device_requests": devices or None,
            "network_mode": executor.network_mode,
            "user": host_user(),
            "init": True,
            "detach": True,
        }
        if not host_network:
            options["ports"] = {f"{port}/tcp": ("127.0.0.1", port)}
        if spec.memory_gb:
            options["mem_limit"] = f"{int(spec.memory_gb * 1024)}m"
        if spec.cpus:
            options["nano_cpus"] = int(spec.cpus * 1e9)

        client = executor.client
        try:
            container = client.containers.create(image, **options)
        except ImageNotFound as exc:
            raise DockerExecutorError(
                f"service {spec.name!r}: the Docker engine has no image {image!r}"
            ) from exc
        log_path = log_dir / LOG_FILE
        guard = None
        try:
            with log_path.open("ab") as log:
                log.write(
                    f"\n[vlmhb] starting server {spec.name} in container "
                    f"{container.id[:12]} of {image} on port {port}\n".encode()
                )
                log.flush()
                # The guardian first: from here on, a dead run takes the container along.
                guard = guardian.launch(container.id, executor.docker_host, log)
            try:
                container.start()
            except APIError as exc:
                raise start_error(exc, f"service {spec.name}", devices) from exc
        except BaseException:
            remove_container(container)
            if guard is not None:
                _end(guard)
            raise
        thread = threading.Thread(
            target=_follow_logs, args=(container, log_path), daemon=True, name="vlmhb-log"
        )
        thread.start()
        return cls(container, f"http://127.0.0.1:{port}", port, env.lock_text, guard, thread)

    def alive(self) -> bool:
        try:
            self.container.reload()
        except NotFound:
            return False
        except DockerException:
            return True  # the engine did not answer this time: not proof of death
        return self.container.status in ("created", "running")

    def record(self) -> dict[str, Any]:
        return {
            "kind": "container",
            "container": self.container_id,
            "port": self.port,
            "started_at": self.started_at,
        }

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the server, SIGKILL after ``grace_s``, remove the container, end the
        guardian; its log is complete when this returns."""
        try:
            self.container.stop(timeout=max(1, int(grace_s)))
        except (NotFound, APIError):
            pass
        remove_container(self.container)
        self._log_thread.join(timeout=10)
        if self._guard is not None:
            _end(self._guard)
            self._guard = None


def _end(process: subprocess.Popen[bytes]) -> None:
    """End a guardian (its container is gone or going) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _follow_logs(container: Any, path: Path) -> None:
    """Append the container's output to the server log as it comes, until it ends."""
    try:
        with path.open("ab") as log:

            def write(line: str) -> None:
                log.write(line.encode("utf-8", "replace") + b"\n")
                log.flush()

            splitter = LineSplitter(write)
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                splitter.feed(chunk)
            splitter.close()
    except (DockerException, OSError):
        pass  # the container was removed under the stream: the log has what was written
