"""The docker executor: a stage or a model server runs in a container, in an environment built
in one.

Why containers: a model may need system libraries, a CUDA runtime or GPUs that the host's
Python should not see; the image gives it a fixed base while the packages still come from the
stage's sources, installed with uv. The environment is built by the dependency injector's
``ContainerBuilder`` into the same cache as host venvs (same key recipe with the image id,
same lock, ready marker, ``vlmhb env list/prune``), then mounted read-only at its own path.

Host paths appear at the same absolute paths inside the container: the workdir (read-write),
the extra mounts (read-only), editable local sources (an edit is seen by the next run without
a rebuild) and the environment. Containers use the host's network, its CA bundle and proxy
variables, run as the host user, and are removed after the stage, also when it fails, times
out or the caller is interrupted.

The engine is whatever ``DOCKER_HOST`` (or the default socket) names, as for every Docker
client; this package never starts one (``scripts/docker-engine.sh`` does, for tests).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from vlmhb_dependency_injector import ContainerBuilder, Environment, EnvironmentManager
from vlmhb_dependency_injector.container import (
    SYSTEM_PATH,
    host_network_environment,
    source_volumes,
)
from vlmhb_executor_api import (
    ExecutorContext,
    OutputCallback,
    ServiceSpec,
    StageOutcome,
    StageSpec,
)

from .containers import (
    MERGE_STREAMS,
    NOT_FOUND_EXIT_CODE,
    ROLE_LABEL,
    STAGE_LABEL,
    CommandNotFound,
    DockerExecutorError,
    gpu_requests,
    remove_container,
    run_to_end,
    slug,
)
from .service import DockerService

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "vlmhb-base:bookworm"
"""Debian bookworm with Python 3.11, venv, git and CA certificates (``scripts/docker-engine.sh
image`` builds it where no registry is reachable)."""
IMAGE_ENV = "VLMHB_DOCKER_IMAGE"
LOCK_FILENAME = "environment.lock"
"""Written into every stage's workdir: the run's bill of materials."""
_PYTHON_NAMES = {"python", "python3"}


class DockerExecutor:
    """Runs stages and model servers in containers of ``image``.

    ``manager`` holds the environment cache (default: the injector's default cache);
    ``image`` defaults to ``$VLMHB_DOCKER_IMAGE`` or ``vlmhb-base:bookworm``; ``docker_host``
    to ``$DOCKER_HOST`` or the default socket; ``python`` is the images' interpreter
    environments are created from; ``kill_grace_s`` is how long a timed-out stage gets
    between SIGTERM and SIGKILL.
    """

    kind = "docker"

    def __init__(
        self,
        manager: EnvironmentManager | None = None,
        *,
        image: str | None = None,
        docker_host: str | None = None,
        python: str = "/usr/bin/python3",
        uv_binary: str | os.PathLike[str] | None = None,
        uv_cache_dir: str | os.PathLike[str] | None = None,
        network_mode: str = "host",
        tail_lines: int = 50,
        kill_grace_s: float = 5.0,
    ) -> None:
        self.manager = manager or EnvironmentManager()
        self.image = image or os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE
        self.docker_host = docker_host
        self.python = python
        self.uv_binary = uv_binary
        self.uv_cache_dir = uv_cache_dir
        self.network_mode = network_mode
        self.tail_lines = tail_lines
        self.kill_grace_s = kill_grace_s
        self._client: docker.DockerClient | None = None
        self._services: list[DockerService] = []

    # --- engine and image ---------------------------------------------------------------
    @property
    def client(self) -> docker.DockerClient:
        """The engine's client; a clear error naming DOCKER_HOST when none answers."""
        if self._client is None:
            where = (
                self.docker_host
                or os.environ.get("DOCKER_HOST")
                or "the default socket unix:///var/run/docker.sock (DOCKER_HOST is not set)"
            )
            try:
                if self.docker_host:
                    client = docker.DockerClient(base_url=self.docker_host, timeout=600)
                else:
                    client = docker.from_env(timeout=600)
                client.ping()
            except DockerException as exc:
                raise DockerExecutorError(
                    f"no Docker engine answers at {where} ({exc}); set DOCKER_HOST to a "
                    "running engine (for a private one: `scripts/docker-engine.sh start` "
                    "prints its DOCKER_HOST)"
                ) from exc
            self._client = client
        return self._client

    def image_id(self, image: str | None = None) -> str:
        """The id of ``image`` (default: the executor's); a clear error if the engine lacks it."""
        image = image or self.image
        try:
            return str(self.client.images.get(image).id)
        except ImageNotFound as exc:
            raise DockerExecutorError(
                f"the Docker engine has no image {image!r}; pull or build it (without a "
                f"registry: `scripts/docker-engine.sh image --tag {image}`), or choose another "
                f"with ${IMAGE_ENV} or the model's docker_image"
            ) from exc

    def builder(self, image: str | None = None) -> ContainerBuilder:
        """The injector's builder for environments in containers of ``image``."""
        image = image or self.image
        return ContainerBuilder(
            self._install_runner,
            image,
            self.image_id(image),
            python=self.python,
            uv_binary=self.uv_binary,
            uv_cache_dir=self.uv_cache_dir,
        )

    def _install_runner(
        self,
        image: str,
        command: list[str],
        volumes: dict[str, dict[str, str]],
        environment: dict[str, str],
    ) -> tuple[int, list[str]]:
        lines: list[str] = []

        def emit(line: str) -> None:
            lines.append(line)
            log.debug("[install in %s] %s", image, line)

        code = run_to_end(
            self.client,
            image,
            command=command,
            name=f"vlmhb-install-{os.urandom(4).hex()}",
            labels={ROLE_LABEL: "install", STAGE_LABEL: "install"},
            volumes=volumes,
            environment=environment,
            working_dir="/tmp",
            device_requests=[],
            emit=emit,
            network_mode=self.network_mode,
        )
        return code, lines

    # --- environments -------------------------------------------------------------------
    def environment_key(
        self, sources: Iterable[Any], mode: str = "dev", image: str | None = None
    ) -> str:
        """The key of the environment these sources get in ``image`` (nothing is built)."""
        return self.manager.key(list(sources), mode, builder=self.builder(image))  # type: ignore[arg-type]

    def ensure_environment(
        self, sources: Iterable[Any], mode: str = "dev", image: str | None = None
    ) -> Environment:
        """The ready environment for ``sources`` in ``image``: reused, or built in a container.

        Raises the injector's ``DependencyError`` naming the packages at fault.
        """
        return self.manager.ensure(list(sources), mode, builder=self.builder(image))  # type: ignore[arg-type]

    # --- running stages -----------------------------------------------------------------
    def run(self, spec: StageSpec, on_output: OutputCallback | None = None) -> StageOutcome:
        """Ensure the stage's environment, run its command in a container, report the end.

        A source that cannot be installed raises ``DependencyError`` (the stage never
        started); an engine that refuses the container raises ``DockerExecutorError``; a
        command that fails, is missing or times out is a ``StageOutcome`` with its exit code.
        """
        env = self.ensure_environment(spec.sources, spec.mode)
        output_dir = Path(spec.output_dir).resolve()
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / LOCK_FILENAME).write_text(env.lock_text, encoding="utf-8")
        tail: deque[str] = deque(maxlen=self.tail_lines)

        def emit(line: str) -> None:
            tail.append(line)
            if on_output is not None:
                on_output(line)

        options = self.container_options(spec, env)
        try:
            exit_code = run_to_end(
                self.client,
                self.image,
                **options,
                emit=emit,
                network_mode=self.network_mode,
                timeout_s=spec.timeout_s,
                kill_grace_s=self.kill_grace_s,
                what=spec.name,
            )
        except CommandNotFound as exc:
            emit(f"[vlmhb] stage {spec.name!r}: cannot run {spec.command[0]!r}: {exc}")
            exit_code = NOT_FOUND_EXIT_CODE
        return StageOutcome(
            exit_code=exit_code,
            environment_key=env.key,
            lock=env.lock_text,
            output_tail=list(tail),
        )

    def container_options(self, spec: StageSpec, env: Environment) -> dict[str, Any]:
        """Keyword arguments for the stage's container (also what tests inspect)."""
        if not spec.command:
            raise ValueError(f"stage {spec.name!r}: the command must not be empty")
        output_dir = Path(spec.output_dir).resolve()
        volumes: dict[str, dict[str, str]] = {}
        for mount in spec.mounts:
            path = Path(mount).resolve()
            if not path.exists():
                raise DockerExecutorError(
                    f"stage {spec.name!r}: mount {str(mount)!r} does not exist on this machine"
                )
            volumes[str(path)] = {"bind": str(path), "mode": "ro"}
        for folder in spec.writable:
            path = Path(folder).resolve()
            path.mkdir(parents=True, exist_ok=True)
            volumes[str(path)] = {"bind": str(path), "mode": "rw"}
        volumes.update(source_volumes(env.sources, editable_only=True))
        volumes[str(env.path)] = {"bind": str(env.path), "mode": "ro"}
        volumes[str(output_dir)] = {"bind": str(output_dir), "mode": "rw"}
        environment = {
            "HOME": "/tmp",
            "VIRTUAL_ENV": str(env.path),
            "PATH": f"{env.bin_dir}:{SYSTEM_PATH}",
            "PYTHONUNBUFFERED": "1",  # lines arrive when printed, not at exit
        }
        environment.update(host_network_environment(volumes))
        for name, value in spec.env.items():
            environment[name] = f"{env.bin_dir}:{value}" if name == "PATH" else value
        program, *args = spec.command
        if program in _PYTHON_NAMES:
            program = str(env.python)
        return {
            "command": [*MERGE_STREAMS, program, *args],
            "name": f"vlmhb-{slug(spec.name)}-{os.urandom(4).hex()}",
            "labels": {STAGE_LABEL: spec.name, ROLE_LABEL: "stage"},
            "volumes": volumes,
            "environment": environment,
            "working_dir": str(output_dir),
            "device_requests": gpu_requests(spec.gpus),
        }

    # --- model servers ------------------------------------------------------------------
    def start_service(self, spec: ServiceSpec) -> DockerService:
        """Start a model server in a container of ``spec.image`` (or the executor's image),
        its environment built in that image; see ``service.DockerService``."""
        image = spec.image or self.image
        env = self.ensure_environment(spec.sources, spec.mode, image)
        service = DockerService.start(self, spec, env, image)
        self._services.append(service)
        return service

    def stop_recorded(self, record: dict[str, Any]) -> bool:
        """Remove the container a dead run's ``record()`` names; False if it is gone."""
        container_id = str(record.get("container") or "")
        if record.get("kind") != "container" or not container_id:
            return False
        try:
            container = self.client.containers.get(container_id)
        except NotFound:
            return False
        remove_container(container)
        return True

    def close(self) -> None:
        """Stop the servers this executor started that are still running; drop the client."""
        for service in self._services:
            service.stop()
        self._services.clear()
        if self._client is not None:
            self._client.close()
            self._client = None


def create(context: ExecutorContext) -> DockerExecutor:
    """Entry point ``vlmhyperbench.executors: docker`` (options: ``image``, ``docker_host``)."""
    options = context.options
    return DockerExecutor(
        context.env_manager,
        image=options.get("image"),
        docker_host=options.get("docker_host"),
    )
