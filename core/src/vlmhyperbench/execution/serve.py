"""Serve stage: the model's API wrapper, started through the executor, recorded in the work dir.

The server starts lazily (only when an infer stage has samples to send), is shared by every
run of that model, and stops when the model's runs are done. The API key goes over as a
secret file, never on a command line or in a container's environment. Each server writes
``servers/<model>/server.json`` (who started it, pid or container, port); a later run of the
same work dir stops servers whose run died, and ``vlmhb status`` lists the live ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from vlmhb_executor_api.services import pid_alive, process_matches, stop_process_record

from ..executors import Executor, ServiceHandle, ServiceSpec, StopsRecorded
from ..workdir import Workdir, read_json, write_json
from .stages import ServeStage

RECORD_FILE = "server.json"


class ServerStartError(RuntimeError):
    pass


class ModelServer:
    """A model's wrapper started by an executor (a process, a container, a Ray actor)."""

    def __init__(
        self,
        stage: ServeStage,
        executor: Executor,
        sources: list[Any],
        layout: Workdir,
        mode: str,
        data_mounts: list[Path],
        ready_timeout_s: float = 600.0,
    ) -> None:
        self.stage = stage
        self.model = stage.model
        self.executor = executor
        self.sources = sources
        self.log_dir = layout.server_dir(stage.model.name)
        self.workdir_root = layout.root
        self.mode = mode
        self.data_mounts = data_mounts
        self.ready_timeout_s = ready_timeout_s
        self.api_key = secrets.token_urlsafe(24)
        self.base_url = ""
        self.model_id: str | None = None
        self.handle: ServiceHandle | None = None

    @property
    def environment_lock(self) -> str:
        return getattr(self.handle, "environment_lock", "")

    def spec(self) -> ServiceSpec:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.log_dir / "model_config.json"
        config_path.write_text(
            json.dumps(local_model(self.model.server_config), ensure_ascii=False),
            encoding="utf-8",
        )
        command = [
            "vlmhb-serve",
            "--backend",
            str(self.stage.backend),
            "--model-config",
            str(config_path),
            "--host",
            "{host}",
            "--port",
            "{port}",
            "--api-key-file",
            "{secret:api_key}",
        ]
        resources = self.model.resources
        return ServiceSpec(
            name=f"serve-{self.stage.id}",
            sources=self.sources,
            command=command,
            log_dir=self.log_dir,
            mounts=self.data_mounts,
            # ${VLMHB_WORKDIR} in a model path (the tiny smoke model) resolves where it runs
            env={"VLMHB_WORKDIR": str(self.workdir_root), **self.model.env},
            secrets={"api_key": self.api_key},
            gpus=resources.gpus,
            cpus=resources.cpus,
            memory_gb=resources.memory_gb,
            mode=self.mode,  # type: ignore[arg-type]
            labels={"org.vlmhyperbench.model": self.model.name},
            image=self.model.docker_image,
        )

    def start(self) -> None:
        handle = self.handle = self.executor.start_service(self.spec())
        self.base_url = handle.base_url
        write_json(
            self.log_dir / RECORD_FILE,
            {
                **handle.record(),
                "executor": self.executor.kind,
                "model": self.model.name,
                "base_url": self.base_url,
                "owner_pid": os.getpid(),
            },
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        headers = {"Authorization": f"Bearer {self.api_key}"}
        last = "no answer yet"
        handle = self.handle
        assert handle is not None, "start() sets the handle before waiting"
        while time.monotonic() < deadline:
            if not handle.alive():
                raise ServerStartError(
                    f"model server for {self.model.name!r} exited before it was ready; "
                    f"see {self.log_dir / 'server.log'}:\n{self.log_tail()}"
                )
            try:
                response = httpx.get(f"{self.base_url}/ready", headers=headers, timeout=5)
                if response.status_code == 200:
                    models = httpx.get(f"{self.base_url}/v1/models", headers=headers, timeout=5)
                    data = models.json().get("data") or []
                    self.model_id = data[0]["id"] if data else None
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                body = _json(response)
                if body.get("state") == "failed":  # the load failed: waiting will not help
                    raise ServerStartError(
                        f"model {self.model.name!r} failed to load on backend "
                        f"{self.stage.backend!r}: {body.get('reason') or last} "
                        f"(see {self.log_dir / 'server.log'})"
                    )
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise ServerStartError(
            f"model server for {self.model.name!r} not ready after {self.ready_timeout_s:.0f} s "
            f"({last}); see {self.log_dir / 'server.log'}"
        )

    def log_tail(self, lines: int = 20) -> str:
        path = self.log_dir / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()
        (self.log_dir / RECORD_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.log_dir / "secrets", ignore_errors=True)  # the key dies with it

    async def restart(self, reason: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "server.log").open("a", encoding="utf-8") as log:
            log.write(f"\n[vlmhb] restarting server: {reason}\n")
        await asyncio.to_thread(self.stop)
        await asyncio.to_thread(self.start)


def local_model(config: dict[str, Any]) -> dict[str, Any]:
    """``model: <Hub id>`` read from ``$VLMHB_MODELS_DIR/<Hub id>`` when that folder exists
    (no hub is reached at run time; an imported v0.1 model runs where its weights are)."""
    models_dir = os.environ.get("VLMHB_MODELS_DIR")
    name = config.get("model")
    if models_dir and isinstance(name, str) and not Path(name).is_absolute():
        candidate = Path(models_dir) / name
        if candidate.is_dir():
            return {**config, "model": str(candidate)}
    return config


class RemoteModelServer:
    """An API wrapper someone else runs (``base_url`` in the model entry): never started here."""

    environment_lock = ""

    def __init__(self, stage: ServeStage) -> None:
        assert stage.model.base_url is not None
        self.model = stage.model
        self.base_url = stage.model.base_url.rstrip("/")
        self.api_key = os.environ.get("VLMHB_API_KEY")
        self.model_id: str | None = None

    def start(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.get(f"{self.base_url}/v1/models", headers=headers, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ServerStartError(
                f"model {self.model.name!r}: {self.base_url} is not answering: {exc}"
            ) from exc
        data = response.json().get("data") or []
        self.model_id = data[0]["id"] if data else None

    def stop(self) -> None:
        pass

    async def restart(self, reason: str) -> None:
        raise ServerStartError(
            f"remote server {self.base_url} failed ({reason}); it is not ours to restart"
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- servers left behind ----------------------------------------------------------------------
def server_records(layout: Workdir) -> list[tuple[Path, dict[str, Any]]]:
    root = layout.servers_root
    found = []
    for path in sorted(root.glob(f"*/{RECORD_FILE}")) if root.is_dir() else []:
        try:
            found.append((path, read_json(path)))
        except (OSError, ValueError):
            continue
    return found


def record_is_live(record: dict[str, Any]) -> bool:
    if record.get("kind") == "process":
        return process_matches(int(record.get("pid") or 0), "vlmhb-serve")
    return True  # a container or actor: its executor knows; listed as recorded


def stop_orphans(layout: Workdir, executor: Executor | None, say: Any = print) -> list[str]:
    """Stop servers of this work dir whose run is dead; return what was stopped. Local
    processes are stopped here; a container or an actor only by an executor that has the
    ``StopsRecorded`` capability (None: ``vlmhb stop``, which holds no executor)."""
    stopped = []
    for path, record in server_records(layout):
        owner = int(record.get("owner_pid") or 0)
        if owner and owner != os.getpid() and pid_alive(owner):
            continue  # its run is alive (another run in the same work dir)
        done = False
        if record.get("kind") == "process":
            done = stop_process_record(record)
        elif isinstance(executor, StopsRecorded):
            done = executor.stop_recorded(record)
        if done:
            what = record.get("container") or record.get("actor") or f"pid {record.get('pid')}"
            say(
                f"stopped a model server left by a dead run: {record.get('model')} ({what}, "
                f"port {record.get('port')})"
            )
            stopped.append(str(record.get("model")))
        path.unlink(missing_ok=True)
    return stopped
