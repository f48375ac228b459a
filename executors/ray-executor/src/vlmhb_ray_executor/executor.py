"""The Ray executor, driver side: stages become Ray tasks, model servers Ray actors.

Why Ray: spreading an experiment over more GPUs than one machine has needs a scheduler that
places work by resources, restarts what dies and shows what runs; Ray does all three, and
KubeRay brings it to Kubernetes. What stays ours is the environment (the dependency injector's
content-addressed uv venv, built or reused on the node that runs the work) and the stage
contract (files plus JSON-lines on stdout), so a stage behaves on a worker as it does locally.

Task and actor names are ``vlmhb-<kind>-<stage id>``, so ``ray list tasks`` and the dashboard
show what runs. Model-server actors are not detached: Ray kills them (and, through them, the
server processes) when the driver that owns them dies, so a killed run leaves nothing behind.

Two ways to reach the data: a filesystem shared by every node at the driver's paths (one
machine, or one volume mounted everywhere; a worker that cannot see them fails with an error
that says so), or, with ``storage`` set, an S3-compatible bucket through which every stage's
folders travel (``transfer``): no shared filesystem needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vlmhb_executor_api import (
    ExecutorContext,
    ExecutorError,
    OutputCallback,
    ServiceSpec,
    StageOutcome,
    StageSpec,
    with_secret_files,
)

from . import remote
from .resources import service_options, stage_options
from .sealed import seal
from .transfer import (
    Moved,
    ObjectStore,
    StageTransfer,
    StorageError,
    stage_inputs,
    stage_outputs,
)

STORAGE_ENV = "VLMHB_RAY_STORAGE"
"""The bucket for stage folders when nodes share no filesystem (``s3://bucket/prefix``)."""

DEFAULT_PLACEMENT_TIMEOUT_S = 300.0
"""How long a model server that no node can host *now* waits for one (an autoscaling
cluster, e.g. KubeRay, may add a GPU node) before the run gives up on that model."""
NAME_RELEASE_TIMEOUT_S = 30.0


class RayExecutor:
    """Runs stages as Ray tasks and model servers as Ray actors on a Ray cluster.

    ``address`` is a Ray address (``host:port``, ``ray://...``, ``auto``); None means
    ``$RAY_ADDRESS``, and without it a local Ray instance is started for this run (and
    stopped by ``close``). Ray already initialised in this process (a notebook, a benchmark)
    is used as it is and left running. ``stage_cpus`` is the CPU slots each stage task holds;
    ``stage_retries`` how often a stage whose worker or node died is started again.
    ``storage`` (``s3://bucket/prefix``, else ``$VLMHB_RAY_STORAGE``) on ``storage_endpoint``
    (else boto3's settings, e.g. ``AWS_ENDPOINT_URL``, on each node) moves stage folders
    between nodes through that bucket instead of a shared filesystem.
    """

    kind = "ray"

    def __init__(
        self,
        env_manager: Any,
        workdir: str | os.PathLike[str],
        *,
        address: str | None = None,
        stage_cpus: float = 1.0,
        stage_retries: int = 2,
        placement_timeout_s: float = DEFAULT_PLACEMENT_TIMEOUT_S,
        storage: str | None = None,
        storage_endpoint: str | None = None,
    ) -> None:
        self.env_manager = env_manager
        self.workdir = Path(workdir)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.stage_cpus = stage_cpus
        self.stage_retries = stage_retries
        self.placement_timeout_s = placement_timeout_s
        digest = hashlib.sha256(str(self.workdir.absolute()).encode()).hexdigest()[:12]
        self.namespace = f"vlmhb-{digest}"
        """Actor names are unique per namespace: one per work dir, so two runs of different
        work dirs on one cluster never collide on a model's server name."""
        self._ray: Any = None
        self._owns_ray = False
        self._settings: dict[str, Any] = {}
        self._stage_fn: Any = None
        self._actor_cls: Any = None
        self._noop: Any = None
        self._services: list[RayService] = []
        storage = storage or os.environ.get(STORAGE_ENV) or None
        try:
            self.store = ObjectStore(storage, storage_endpoint) if storage else None
        except ValueError as exc:
            raise ExecutorError(str(exc)) from exc
        self.transfers: list[StageTransfer] = []
        """Per stage attempt, what travelled through the bucket (storage mode only)."""

    # --- connection ------------------------------------------------------------------------
    def connect(self) -> Any:
        """Connect to the cluster (or start a local instance) once; return the ``ray`` module."""
        if self._ray is not None:
            return self._ray
        import ray

        if not ray.is_initialized():
            common: dict[str, Any] = {
                "namespace": self.namespace,
                "log_to_driver": False,  # stage output comes back through the task, in order
                "logging_level": logging.WARNING,
            }
            try:
                if self.address:
                    ray.init(address=self.address, **common)
                else:
                    ray.init(address="local", include_dashboard=False, **common)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local instance"
                raise ExecutorError(
                    f"ray executor: cannot connect to the Ray cluster at {where}: {exc}. Start "
                    "one (`ray start --head`), pass --ray-address HOST:PORT or set RAY_ADDRESS, "
                    "or give neither to start a local instance"
                ) from exc
            self._owns_ray = True
        self._settings = remote.node_settings(
            self.env_manager, ray.get_runtime_context().get_node_id()
        )
        self._stage_fn = ray.remote(remote.run_stage)
        self._actor_cls = ray.remote(remote.ServerActor)
        self._noop = ray.remote(num_cpus=0)(remote.noop)
        self._ray = ray
        return ray

    # --- stages ----------------------------------------------------------------------------
    def run(self, spec: StageSpec, on_output: OutputCallback | None = None) -> StageOutcome:
        """Run the stage as the Ray task ``vlmhb-<spec.name>``; its output lines reach
        ``on_output`` (in this thread) as the stage prints them.

        A stage whose worker process or node dies is started again, up to ``stage_retries``
        times (stages are resumable: each redoes only what is missing). An environment that
        cannot be built raises the injector's ``DependencyError``, as locally.
        """
        ray = self.connect()
        emit: Callable[[str], None] = on_output or (lambda line: None)
        output_dir = Path(spec.output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        store = self.store
        token = None if store else _write_probe(output_dir)
        options = stage_options(spec, self.stage_cpus)
        name = f"vlmhb-{spec.name}"
        lost = 0
        try:
            while True:
                transfer = StageTransfer(spec.name)
                if store is not None:  # each attempt starts from the driver's folders
                    transfer.driver_push = store.push_all(stage_inputs(spec))
                generator = self._stage_fn.options(name=name, max_retries=0, **options).remote(
                    spec.model_dump_json(),
                    self._settings,
                    token,
                    store.as_dict() if store else None,
                )
                try:
                    outcome = self._follow(spec, generator, emit, transfer)
                    if store is not None:
                        transfer.driver_pull = store.pull_all(stage_outputs(spec))
                        self.transfers.append(transfer)
                        emit(_transfer_line(transfer))
                    return outcome
                except _WorkerLost as exc:
                    lost += 1
                    if lost > self.stage_retries:
                        raise ExecutorError(
                            f"stage {spec.name!r}: its Ray worker died {lost} times "
                            f"(last: {exc}); giving up"
                        ) from exc
                    emit(
                        f"[vlmhb] stage {spec.name!r}: its Ray worker died ({exc}); "
                        f"starting it again ({lost}/{self.stage_retries})"
                    )
                except BaseException:  # Ctrl-C, a callback's error: the task must not go on
                    with contextlib.suppress(Exception):
                        ray.cancel(generator)
                    raise
        except StorageError as exc:
            raise ExecutorError(f"stage {spec.name!r}: {exc}") from exc
        finally:
            if token is not None:
                (output_dir / remote.PROBE_FILE).unlink(missing_ok=True)

    def _follow(
        self,
        spec: StageSpec,
        generator: Any,
        emit: Callable[[str], None],
        transfer: StageTransfer | None = None,
    ) -> StageOutcome:
        ray = self._ray
        from ray import exceptions as rex

        lost_errors = (
            rex.WorkerCrashedError,
            rex.NodeDiedError,
            rex.LocalRayletDiedError,
            rex.ObjectLostError,
        )
        for ref in generator:
            try:
                kind, payload = ray.get(ref)
            except lost_errors as exc:
                raise _WorkerLost(_first_line(exc)) from exc
            except rex.RayTaskError as exc:  # the task could not run its code at all
                raise ExecutorError(
                    f"stage {spec.name!r}: the Ray task failed on the worker: {_first_line(exc)} "
                    "(is vlmhb-ray-executor installed on every node, next to Ray?)"
                ) from exc
            if kind == "lines":
                for line in payload:
                    emit(line)
            elif kind == "transfer" and transfer is not None:
                for side, moved in payload.items():
                    setattr(transfer, side, Moved(**moved))
            elif kind == "outcome":
                return StageOutcome.model_validate(payload)
            elif kind == "error":
                raise remote_error(payload, f"stage {spec.name!r}")
        raise _WorkerLost("the task ended without an outcome")

    # --- model servers -----------------------------------------------------------------------
    def start_service(self, spec: ServiceSpec) -> RayService:
        """Start the model server inside the Ray actor ``vlmhb-<spec.name>``, placed by the
        spec's resources (and custom ones: ``VLMHB_RAY_RESOURCES`` in the model's env)."""
        ray = self.connect()
        options = service_options(spec)
        name = f"vlmhb-{spec.name}"
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        token = None if self.store else _write_probe(spec.log_dir)
        try:
            self._wait_name_free(name)
            actor = self._actor_cls.options(
                name=name,
                namespace=self.namespace,
                max_restarts=0,  # a dead server is restarted by the run, which knows the key
                max_concurrency=4,  # alive() answers while start() builds the environment
                **options,
            ).remote(self._settings)
            try:
                self._wait_placed(actor, spec, options)
                self._prewarm()  # the actor took an idle worker: have one ready for the next
                if self.store is None:
                    info = ray.get(actor.start.remote(service_spec_json(spec), token))
                else:  # no shared filesystem: the secrets go sealed to the actor's own key
                    sealed = seal(
                        {k: v.get_secret_value() for k, v in spec.secrets.items()},
                        ray.get(actor.public_key.remote()),
                    )
                    self.store.push(spec.log_dir, delete="none")  # its model config
                    unsealed = spec.model_copy(update={"secrets": {}}).model_dump_json()
                    info = ray.get(actor.start.remote(unsealed, None, sealed, self.store.as_dict()))
            except BaseException:
                ray.kill(actor, no_restart=True)
                raise
            if "error" in info:
                ray.kill(actor, no_restart=True)
                raise remote_error(info["error"], f"model server {spec.name!r}")
        finally:
            if token is not None:
                (spec.log_dir / remote.PROBE_FILE).unlink(missing_ok=True)
        service = RayService(self, actor, name, info, spec.log_dir)
        self._services.append(service)
        return service

    def _prewarm(self) -> None:
        """Ask Ray for an idle worker process in the background (a no-op task, not waited
        for). An actor needs a worker process of its own, and starting one (Python plus Ray's
        imports) is most of a server actor's start-up: one started ahead saves that second."""
        self._noop.remote()

    def _wait_placed(self, actor: Any, spec: ServiceSpec, options: dict[str, Any]) -> None:
        """Wait until the actor runs somewhere; give up after ``placement_timeout_s`` only when
        no live node could ever host it (otherwise it waits for resources to free up, as Ray
        does)."""
        ray = self._ray
        pid_ref = actor.pid.remote()
        if _feasible(ray.nodes(), options):
            ray.get(pid_ref)
            return
        ready, _ = ray.wait([pid_ref], timeout=self.placement_timeout_s)
        if ready:
            ray.get(pid_ref)
            return
        nodes = ", ".join(
            f"{n['NodeManagerAddress']} {_public(n['Resources'])}"
            for n in ray.nodes()
            if n["Alive"]
        )
        raise ExecutorError(
            f"model {spec.labels.get('org.vlmhyperbench.model', '?')!r} (server {spec.name!r}) "
            f"asks for {_asked(options)}, which no node of the Ray cluster has (waited "
            f"{self.placement_timeout_s:g} s); nodes: {nodes}"
        )

    def _wait_name_free(self, name: str) -> None:
        """A restarted server reuses its name: wait until Ray has released the old actor's."""
        if remote.wait_until(lambda: not self._name_taken(name), NAME_RELEASE_TIMEOUT_S, 0.2):
            return
        raise ExecutorError(
            f"a Ray actor named {name!r} already runs in namespace {self.namespace!r}: another "
            "run of this work dir serves the same model on this cluster; stop it (`vlmhb stop`) "
            "or use another work dir"
        )

    def _name_taken(self, name: str) -> bool:
        try:
            self._ray.get_actor(name, namespace=self.namespace)
        except ValueError:
            return False
        return True

    def stop_recorded(self, record: dict[str, Any]) -> bool:
        """Stop a server actor a dead run recorded, if it still exists; True if stopped.

        Non-detached actors die with their driver, so this finds something only when the
        driver's death has not reached the cluster yet.
        """
        if record.get("kind") != "ray-actor" or not record.get("actor"):
            return False
        ray = self.connect()
        namespace = record.get("namespace") or self.namespace
        try:
            actor = ray.get_actor(str(record["actor"]), namespace=namespace)
        except ValueError:
            return False
        ray.kill(actor, no_restart=True)
        return True

    def close(self) -> None:
        """Stop the servers still running, and Ray itself if this executor started it."""
        for service in list(self._services):
            service.stop()
        if self._ray is not None and self._owns_ray:
            self._ray.shutdown()
        self._ray = None
        self._owns_ray = False


class RayService:
    """A model server in a Ray actor: where it answers, whether it lives, how to stop it."""

    def __init__(
        self,
        executor: RayExecutor,
        actor: Any,
        name: str,
        info: dict[str, Any],
        log_dir: Path | None = None,
    ):
        self._executor = executor
        self._log_dir = log_dir
        self._log_copied = False
        self.actor = actor
        self.name = name
        self.base_url: str = info["base_url"]
        self.environment_lock: str = info.get("lock", "")
        self.port: int = int(info["port"])
        self.pid: int = int(info["pid"])
        """The server process's pid on its node (the actor's child)."""
        self.node_ip: str = info.get("node_ip", "")
        self.started_at: float = float(info.get("started_at") or time.time())
        self.stopped = False

    def alive(self) -> bool:
        """Ask the actor whether its server process runs; a dead actor is a dead server."""
        if self.stopped:
            return False
        ray = self._executor._ray
        try:
            alive = bool(ray.get(self.actor.alive.remote(), timeout=30))
        except Exception:  # actor died, node lost, no answer: not alive
            return False
        if not alive:
            self._copy_log()
        return alive

    def _copy_log(self) -> None:
        """Without a shared filesystem the server's log is on its node: copy its end to the
        driver's ``server.log``, where the run's errors point."""
        if self._executor.store is None or self._log_dir is None or self._log_copied:
            return
        self._log_copied = True
        try:
            tail = self._executor._ray.get(self.actor.log_tail.remote(), timeout=30)
        except Exception:
            return
        if tail:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            with (self._log_dir / "server.log").open("a", encoding="utf-8") as log:
                log.write(f"--- the server's log on Ray node {self.node_ip} (its end) ---\n")
                log.write(tail)

    def stop(self, grace_s: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``grace_s``), then kill the actor and
        wait for its name to be free, so a restart can take it."""
        if self.stopped:
            return
        self.stopped = True
        executor = self._executor
        ray = executor._ray
        if ray is None:
            return
        try:
            ray.get(self.actor.stop.remote(grace_s), timeout=grace_s + 10)
            self._copy_log()
        except Exception:  # the actor may be gone already; kill it anyway
            pass
        ray.kill(self.actor, no_restart=True)
        remote.wait_until(lambda: not executor._name_taken(self.name), NAME_RELEASE_TIMEOUT_S, 0.1)
        if self in executor._services:
            executor._services.remove(self)

    def record(self) -> dict[str, Any]:
        return {
            "kind": "ray-actor",
            "actor": self.name,
            "namespace": self._executor.namespace,
            "node_ip": self.node_ip,
            "port": self.port,
            "started_at": self.started_at,
        }


class _WorkerLost(RuntimeError):
    """The worker or node running a stage died (not the stage's own failure)."""


def remote_error(payload: dict[str, Any], what: str) -> Exception:
    """The driver-side exception for an error reported by a worker: the injector's
    ``DependencyError`` (same class as locally) or an ``ExecutorError`` naming node and type."""
    dependency = payload.get("dependency")
    if dependency:
        import vlmhb_dependency_injector as injector

        cls = getattr(injector, dependency.get("class", ""), injector.DependencyError)
        try:
            return cls(dependency["packages"], dependency["cause"], dependency.get("detail", ""))
        except TypeError:
            return injector.DependencyError(
                dependency["packages"], dependency["cause"], dependency.get("detail", "")
            )
    where = payload.get("node", "?")
    if payload.get("type") == "SharedFilesystemError":
        return ExecutorError(payload["message"])
    return ExecutorError(
        f"{what} failed on Ray node {where}: {payload.get('type')}: {payload.get('message')}\n"
        f"{payload.get('traceback', '')}"
    )


def service_spec_json(spec: ServiceSpec) -> str:
    """The spec as it travels to the server's actor: its secrets written as 0600 files beside
    the server's log (a folder the worker sees: the probe checks it), their paths in the
    command, and no secret in the JSON, which Ray keeps in the task's arguments."""
    return with_secret_files(spec).model_dump_json()


def _transfer_line(transfer: StageTransfer) -> str:
    """One log line of what a stage's folders cost in traffic (storage mode)."""
    parts = []
    for side in ("driver_push", "worker_pull", "worker_push", "driver_pull"):
        moved: Moved = getattr(transfer, side)
        parts.append(f"{side.replace('_', ' ')} {moved.files} files {moved.bytes} B")
    return f"[vlmhb] stage {transfer.stage!r} through object storage: " + ", ".join(parts)


def _write_probe(folder: Path) -> str:
    token = secrets.token_hex(8)
    (folder / remote.PROBE_FILE).write_text(token, encoding="utf-8")
    return token


def _first_line(exc: BaseException) -> str:
    """The line of a Ray error that says what went wrong (its last ``...Error: ...`` line),
    without the terminal colours Ray puts in task names."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
    if errors:
        return errors[-1]
    return lines[0] if lines else type(exc).__name__


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _asked(options: dict[str, Any]) -> dict[str, float]:
    asked: dict[str, float] = dict(options.get("resources") or {})
    if options.get("num_gpus"):
        asked["GPU"] = float(options["num_gpus"])
    if options.get("num_cpus"):
        asked["CPU"] = float(options["num_cpus"])
    if options.get("memory"):
        asked["memory"] = float(options["memory"])
    return asked


def _public(resources: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in resources.items() if not k.startswith("node:")}


def _feasible(nodes: list[dict[str, Any]], options: dict[str, Any]) -> bool:
    """Whether some live node has (in total) every resource the actor asks for."""
    asked = _asked(options)
    return any(
        node.get("Alive") and all(node["Resources"].get(k, 0.0) >= v for k, v in asked.items())
        for node in nodes
    )


def create(context: ExecutorContext) -> RayExecutor:
    """Entry point ``vlmhyperbench.executors: ray``.

    Options (``context.options``): ``ray_address`` (else ``$RAY_ADDRESS``, else a local
    instance), ``ray_stage_cpus``, ``ray_stage_retries``, ``ray_placement_timeout_s``,
    ``ray_storage`` and ``ray_storage_endpoint`` (no shared filesystem: see ``transfer``).
    """
    options = context.options
    return RayExecutor(
        context.env_manager,
        context.workdir,
        address=options.get("ray_address"),
        stage_cpus=float(options.get("ray_stage_cpus", 1.0)),
        stage_retries=int(options.get("ray_stage_retries", 2)),
        placement_timeout_s=float(
            options.get("ray_placement_timeout_s", DEFAULT_PLACEMENT_TIMEOUT_S)
        ),
        storage=options.get("ray_storage"),
        storage_endpoint=options.get("ray_storage_endpoint"),
    )
