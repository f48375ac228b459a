"""What runs on the Ray workers: the stage task (a streaming generator) and the server actor.

Both reuse the local executor of ``vlmhb-executor-api`` (not the core) on the node they land on, so a stage or a model server
behaves on a worker exactly as it does locally: the same content-addressed uv environment
(built or reused by the dependency injector in that node's cache), the same process handling.
The only additions are what a remote node needs: a check that it sees the driver's files (the
executor assumes a shared filesystem), the driver's uv settings that decide an environment's key,
and a way back for output lines (yielded in batches to the driver as they come).

This module is imported on the workers by reference (the functions and the class are pickled
by name), so every node needs ``vlmhb-ray-executor`` installed next to Ray (it brings the
executor contract and the dependency injector, not the core). A model server's spec arrives
without its secrets: the driver wrote them as files on the shared filesystem and put their
paths in the command (``with_secret_files``), so no key travels in a Ray task's arguments.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .transfer import Moved, ObjectStore, stage_inputs, stage_outputs

PROBE_FILE = ".vlmhb-ray-probe"
"""Written by the driver into a stage's folder; a worker that cannot read it back does not
share the driver's filesystem."""
FORWARDED_ENV = (
    "UV_EXCLUDE_NEWER",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_OFFLINE",
)
"""Driver variables that decide what uv installs (``UV_EXCLUDE_NEWER`` is part of an
environment's key): a worker started elsewhere does not have them, so they travel with each
call. Paths (``VLMHB_ENV_CACHE``, ``UV_CACHE_DIR``) do not: each node keeps its own cache."""
MAX_BATCH = 500
"""Most output lines in one streamed item: a chatty stage sends few large items, a quiet
one sends each line as soon as it is printed."""


def node_settings(env_manager: Any, driver_node: str | None) -> dict[str, Any]:
    """What every node must share with the driver to compute the same environment keys:
    ``python`` (the manager's interpreter request), ``base_dir`` (anchors relative local
    sources), ``env`` (the forwarded variables); and ``driver_node`` (the driver's Ray node id,
    to tell a server on the driver's own machine from one elsewhere)."""
    base_dir = getattr(env_manager, "base_dir", None)
    return {
        "python": getattr(env_manager, "python_request", None),
        "base_dir": str(base_dir) if base_dir else None,
        "env": {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ},
        "driver_node": driver_node,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


@contextmanager
def _driver_environment(settings: dict[str, Any]) -> Iterator[None]:
    """The driver's uv variables for the duration of one call (a Ray worker is reused by
    later tasks, possibly of another driver, so they are put back afterwards)."""
    forwarded: dict[str, str] = settings.get("env") or {}
    saved = {name: os.environ.get(name) for name in FORWARDED_ENV}
    for name in FORWARDED_ENV:
        if name in forwarded:
            os.environ[name] = forwarded[name]
        else:
            os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _manager(settings: dict[str, Any]) -> Any:
    """This node's environment manager: its own default cache (``$VLMHB_ENV_CACHE`` of the
    node, else ``~/.cache/vlmhb/envs``), the driver's interpreter request and base folder."""
    from vlmhb_dependency_injector import EnvironmentManager

    return EnvironmentManager(python=settings.get("python"), base_dir=settings.get("base_dir"))


def _node_ip() -> str:
    import ray

    return ray.util.get_node_ip_address()


def check_shared(folder: Path, token: str | None, what: str) -> None:
    """Raise a clear error if this node does not see the driver's ``folder``.

    The executor's first version runs stages on the driver's paths: true on one machine and
    on a cluster whose nodes mount the same shared volume at the same path.
    """
    if token is None:
        return
    probe = Path(folder) / PROBE_FILE
    try:
        seen = probe.read_text(encoding="utf-8").strip()
    except OSError:
        seen = None
    if seen != token:
        raise SharedFilesystemError(
            f"{what}: the Ray worker on node {_node_ip()} cannot see the driver's folder "
            f"{folder} ({probe} is {'missing' if seen is None else 'a different file'}). The "
            "ray executor needs the work dir (and the repository, for local packages) on a "
            "filesystem shared by every node, mounted at the same path; see the "
            "vlmhb-ray-executor README"
        )


class SharedFilesystemError(RuntimeError):
    """A worker does not see the driver's files."""


def error_payload(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data: the injector's errors do not survive pickling (their
    constructor takes other arguments than ``args``), so they travel as their fields."""
    payload: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc))[-4000:],
    }
    try:
        payload["node"] = _node_ip()
    except Exception:
        payload["node"] = "?"
    from vlmhb_dependency_injector import DependencyError

    if isinstance(exc, DependencyError):
        payload["dependency"] = {
            "class": type(exc).__name__,
            "packages": list(exc.packages),
            "cause": exc.cause,
            "detail": exc.detail,
        }
    return payload


# --- stages ---------------------------------------------------------------------------------
_DONE = object()


def run_stage(
    spec_json: str,
    settings: dict[str, Any],
    probe: str | None,
    store: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """The stage task: run the stage with the contract's ``LocalExecutor`` on this node, yielding
    ``("lines", [...])`` while it prints and ``("outcome", {...})`` (or ``("error", {...})``)
    at the end.

    With ``store`` (an ``ObjectStore`` as a dict: no shared filesystem), the stage's folders are
    pulled from the bucket to the same paths on this node first and what it wrote is pushed
    back after it (``("transfer", {...})`` says how much moved); an upload that keeps failing
    fails the stage, so the driver never marks half-uploaded outputs done.

    The local executor blocks and calls back in its own thread, so it runs in a helper thread
    and this generator relays what it hands over. If the task is cancelled, the stage's
    process group is signalled too (it runs in its own session and would otherwise live on).
    """
    from vlmhb_executor_api import LocalExecutor, StageSpec

    spec = StageSpec.model_validate_json(spec_json)
    try:
        check_shared(spec.output_dir, probe, f"stage {spec.name!r}")
    except SharedFilesystemError as exc:
        yield ("error", error_payload(exc))
        return
    lines: queue.Queue[Any] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            moved: dict[str, Moved] = {}
            object_store = ObjectStore(**store) if store else None
            if object_store is not None:
                moved["worker_pull"] = object_store.pull_all(stage_inputs(spec))
            with _driver_environment(settings):
                manager = _manager(settings)
                result["outcome"] = LocalExecutor(manager).run(spec, lines.put)
            if object_store is not None:  # even after a failure: its logs help the driver
                moved["worker_push"] = object_store.push_all(stage_outputs(spec))
                result["transfer"] = {k: asdict(v) for k, v in moved.items()}
        except BaseException as exc:
            result["error"] = exc
        finally:
            lines.put(_DONE)

    thread = threading.Thread(target=work, name=f"vlmhb-{spec.name}", daemon=True)
    thread.start()
    finished = False
    try:
        while not finished:
            try:
                first = lines.get(timeout=1.0)
            except queue.Empty:
                continue
            batch: list[str] = []
            item = first
            while True:
                if item is _DONE:
                    finished = True
                    break
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = lines.get_nowait()
                except queue.Empty:
                    break
            if batch:
                yield ("lines", batch)
    finally:
        if thread.is_alive():  # cancelled while the stage runs: stop its process group
            _signal_children(signal.SIGTERM)
    if "error" in result:
        yield ("error", error_payload(result["error"]))
    else:
        if "transfer" in result:
            yield ("transfer", result["transfer"])
        yield ("outcome", result["outcome"].model_dump(mode="json"))


def _signal_children(sig: int) -> None:
    """Signal the process group of every child of this worker (each stage runs as a group
    leader); Linux only, a no-op elsewhere."""
    children: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        try:
            children += [int(p) for p in task.read_text().split()]
        except (OSError, ValueError):
            continue
    for pid in children:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


# --- model servers ----------------------------------------------------------------------------
class ServerActor:
    """Holds one model server: started with the contract's ``LocalService`` as this actor's child.

    The child dies with the actor (``PR_SET_PDEATHSIG`` and ``--parent-pid`` of the actor's
    pid), and the actor, non-detached, dies with the driver that owns it: so a killed run
    leaves no server on any node.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.service: Any = None
        self._private_key: Any = None
        self._secret_dir: Path | None = None
        self._log_dir: Path | None = None

    def public_key(self) -> bytes:
        """The public half of this actor's key pair: the driver seals the server's secrets to
        it when the nodes share no filesystem (``sealed``)."""
        from .sealed import new_private_key, public_bytes

        if self._private_key is None:
            self._private_key = new_private_key()
        return public_bytes(self._private_key)

    def start(
        self,
        spec_json: str,
        probe: str | None,
        sealed_secrets: bytes | None = None,
        store: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build or reuse the server's environment here, start it, say where it answers.

        On the driver's own node it listens on 127.0.0.1; elsewhere on this node's IP, which
        the driver reaches. Without a shared filesystem (``store``) the server's folder (its
        model config) is fetched from the bucket first, and ``sealed_secrets`` are opened with
        this actor's key and written as 0600 files in a private folder of this node (never in
        the server's folder, which may travel).
        """
        import ray
        from vlmhb_executor_api import LocalService, ServiceSpec

        spec = ServiceSpec.model_validate_json(spec_json)
        try:
            check_shared(spec.log_dir, probe, f"model server {spec.name!r}")
            self._log_dir = spec.log_dir
            if store is not None:
                ObjectStore(**store).pull(spec.log_dir, delete="none")
            if sealed_secrets is not None:
                spec = self._with_opened_secrets(spec, sealed_secrets)
            same_node = ray.get_runtime_context().get_node_id() == self.settings.get("driver_node")
            host = "127.0.0.1" if same_node else _node_ip()
            command = [arg.replace("{host}", host) for arg in spec.command]
            with _driver_environment(self.settings):
                env = _manager(self.settings).ensure(spec.sources, mode=spec.mode)
            if spec.cpus is None:
                _undo_ray_thread_cap(self.settings.get("omp_num_threads"))
            self.service = LocalService.start(spec.model_copy(update={"command": command}), env)
        except Exception as exc:
            return {"error": error_payload(exc)}
        return {
            "base_url": f"http://{host}:{self.service.port}",
            "port": self.service.port,
            "pid": self.service.process.pid,
            "node_ip": _node_ip(),
            "lock": self.service.environment_lock,
            "started_at": self.service.started_at,
        }

    def _with_opened_secrets(self, spec: Any, sealed_secrets: bytes) -> Any:
        import tempfile

        from pydantic import SecretStr
        from vlmhb_executor_api import with_secret_files

        from .sealed import open_sealed

        opened = open_sealed(sealed_secrets, self._private_key)
        secrets = {name: SecretStr(value) for name, value in opened.items()}
        self._secret_dir = Path(tempfile.mkdtemp(prefix="vlmhb-secrets-"))  # 0700
        written = with_secret_files(
            spec.model_copy(update={"secrets": secrets, "log_dir": self._secret_dir})
        )
        return written.model_copy(update={"log_dir": spec.log_dir})

    def alive(self) -> bool:
        return self.service is not None and self.service.alive()

    def log_tail(self, max_bytes: int = 65536) -> str:
        """The end of the server's log on this node (for the driver's copy, when the nodes
        share no filesystem)."""
        if self._log_dir is None:
            return ""
        path = Path(self._log_dir) / "server.log"
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - max_bytes))
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, grace_s: float = 15.0) -> None:
        if self.service is not None:
            self.service.stop(grace_s)
        if self._secret_dir is not None:
            import shutil

            shutil.rmtree(self._secret_dir, ignore_errors=True)

    def pid(self) -> int:
        """The actor's own pid (the server's parent), e.g. for a test that kills it."""
        return os.getpid()


def _undo_ray_thread_cap(driver_value: str | None) -> None:
    """Ray sets ``OMP_NUM_THREADS=1`` in an actor that names no CPUs; a model server started
    from it would run its CPU backend on one thread where a local run uses them all. So a
    server without ``cpus`` gets the driver's value (or none), as it would locally; with
    ``cpus`` Ray's value (that many threads) stands."""
    if driver_value is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = driver_value


def noop() -> None:
    """A task that does nothing: submitted to have Ray start a worker process ahead."""


def wait_until(predicate: Any, timeout_s: float, step_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())
