"""The executor against the real two-node cluster: tasks, actors, placement, lifetimes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from vlmhb_dependency_injector import DependencyError, EnvironmentManager, LocalSource
from vlmhb_ray_executor import RayExecutor, SharedFilesystemError
from vlmhb_ray_executor.remote import check_shared
from vlmhyperbench.executors import (
    ExecutorContext,
    ExecutorError,
    ServiceSpec,
    StageSpec,
    create_executor,
)

from .conftest import HEAD_IP, SECOND_IP, RayCluster

SERVER = textwrap.dedent(
    """
    import argparse, http.server, json, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--parent-pid", type=int)
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            omp = os.environ.get("OMP_NUM_THREADS")
            body = json.dumps({"pid": os.getpid(), "parent": args.parent_pid, "omp": omp})
            body = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    http.server.HTTPServer((args.host, args.port), Handler).serve_forever()
    """
)
"""A real HTTP server taking the arguments the executors pass to ``vlmhb-serve``."""


@pytest.fixture
def manager(env_cache: Path) -> EnvironmentManager:
    return EnvironmentManager(env_cache)


@pytest.fixture
def executor(ray_driver: RayCluster, manager: EnvironmentManager, tmp_path: Path):
    ex = RayExecutor(manager, tmp_path / "work", placement_timeout_s=2)
    yield ex
    ex.close()


def _server_spec(tmp_path: Path, name: str, **extra: object) -> ServiceSpec:
    script = tmp_path / "server.py"
    script.write_text(SERVER, encoding="utf-8")
    return ServiceSpec(
        name=name,
        sources=[],
        command=["python", str(script), "--host", "{host}", "--port", "{port}"],
        log_dir=tmp_path / "servers" / name,
        labels={"org.vlmhyperbench.model": "toy"},
        **extra,  # type: ignore[arg-type]
    )


def _get(url: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=5).json()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _gone(pid: int, within_s: float = 60) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.2)
    return False


def _tasks_named(address: str, name: str) -> list:
    from ray.util.state import list_tasks

    deadline = time.monotonic() + 60  # task events reach the dashboard with a delay
    while True:
        found = list_tasks(address=address, filters=[("name", "=", name)], detail=True)
        finished = [t for t in found if t.state == "FINISHED"]
        if finished or time.monotonic() > deadline:
            return finished
        time.sleep(1)


def test_entry_point_creates_the_ray_executor(ray_driver: RayCluster, manager, tmp_path):
    context = ExecutorContext(env_manager=manager, repo_root=tmp_path, workdir=tmp_path)
    executor = create_executor("ray", context)
    try:
        assert isinstance(executor, RayExecutor) and executor.kind == "ray"
    finally:
        executor.close()


def test_stage_runs_as_named_task_and_streams_lines(executor, manager, ray_driver, tmp_path):
    """The stage waits for a file that only the driver's callback writes on its first line:
    it can finish only if that line reached the driver while the stage was still running."""
    go = tmp_path / "go"
    script = tmp_path / "stage.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import pathlib, time
            print("waiting", flush=True)
            go = pathlib.Path({str(go)!r})
            for _ in range(1200):
                if go.exists():
                    break
                time.sleep(0.05)
            else:
                raise SystemExit("the first line never reached the driver")
            print('@@vlmhb-event {{"type": "log", "line": "from the stage"}}', flush=True)
            print("done", flush=True)
            """
        ),
        encoding="utf-8",
    )
    seen: list[str] = []

    def on_output(line: str) -> None:
        seen.append(line)
        if line == "waiting":
            go.write_text("go")

    spec = StageSpec(
        name="eval-streamtest",
        sources=[],
        command=["python", str(script)],
        output_dir=tmp_path / "stage",
    )
    outcome = executor.run(spec, on_output)
    assert outcome.ok, outcome.output_tail
    assert seen == ["waiting", '@@vlmhb-event {"type": "log", "line": "from the stage"}', "done"]
    assert outcome.environment_key == manager.key([], mode="dev")  # same key as locally
    assert (tmp_path / "stage" / "environment.lock").exists()
    assert not (tmp_path / "stage" / ".vlmhb-ray-probe").exists()
    assert _tasks_named(ray_driver.address, "vlmhb-eval-streamtest")


def test_stage_exit_code_and_tail_come_back(executor, tmp_path):
    spec = StageSpec(
        name="eval-fails",
        sources=[],
        command=["python", "-c", "print('about to fail'); raise SystemExit(3)"],
        output_dir=tmp_path / "failing",
    )
    outcome = executor.run(spec)
    assert outcome.exit_code == 3
    assert "about to fail" in outcome.output_tail


def test_bad_source_raises_the_injectors_error(executor, tmp_path):
    spec = StageSpec(
        name="eval-badsource",
        sources=[LocalSource(type="local", name="nowhere-pkg", path=str(tmp_path / "missing"))],
        command=["python", "-c", "pass"],
        output_dir=tmp_path / "bad",
    )
    with pytest.raises(DependencyError, match="nowhere-pkg"):
        executor.run(spec)


def test_worker_that_cannot_see_the_folder_says_so(executor, tmp_path):
    """A worker that does not share the driver's filesystem reads no (or another) probe."""
    (tmp_path / "stage").mkdir()
    with pytest.raises(SharedFilesystemError, match="shared"):
        check_shared(tmp_path / "stage", "token-written-by-the-driver", "stage 'eval-x'")
    spec = StageSpec(
        name="eval-noshare", sources=[], command=["python", "-c", "pass"], output_dir=tmp_path
    )
    executor.connect()
    generator = executor._stage_fn.options(name="vlmhb-eval-noshare").remote(
        spec.model_dump_json(), executor._settings, "a-token-no-worker-can-read"
    )
    with pytest.raises(ExecutorError, match=f"cannot see the driver's folder {tmp_path}"):
        executor._follow(spec, generator, lambda line: None)


def test_server_pinned_to_second_node_answers_http(executor, ray_driver, tmp_path):
    from ray.util.state import list_actors

    spec = _server_spec(tmp_path, "serve-pinned", env={"VLMHB_RAY_RESOURCES": '{"second": 1}'})
    service = executor.start_service(spec)
    try:
        assert service.base_url.startswith(f"http://{SECOND_IP}:")
        answer = _get(service.base_url)
        assert answer["pid"] == service.pid
        # no CPUs named: not capped to Ray's one thread, the driver's setting as locally
        assert answer["omp"] == os.environ.get("OMP_NUM_THREADS")
        assert service.alive()
        record = service.record()
        assert record["kind"] == "ray-actor" and record["actor"] == "vlmhb-serve-pinned"
        assert record["port"] == service.port and record["node_ip"] == SECOND_IP
        actors = list_actors(
            address=ray_driver.address, filters=[("name", "=", "vlmhb-serve-pinned")]
        )
        assert [a.state for a in actors] == ["ALIVE"]
        import ray

        assert answer["parent"] == ray.get(service.actor.pid.remote())  # dies with the actor
    finally:
        service.stop()
    assert not service.alive()
    assert _gone(service.pid)


def test_dead_server_is_seen_and_a_restart_takes_the_same_name(executor, tmp_path):
    # pinned to the head, the driver's own node (Ray gives every node a "node:<ip>" resource)
    pin = json.dumps({f"node:{HEAD_IP}": 0.01})
    spec = _server_spec(tmp_path, "serve-restart", env={"VLMHB_RAY_RESOURCES": pin})
    first = executor.start_service(spec)
    assert first.base_url.startswith("http://127.0.0.1:")  # on the driver's node: loopback
    _get(first.base_url)
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while first.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not first.alive()
    first.stop()
    second = executor.start_service(spec)
    try:
        assert second.pid != first.pid
        assert _get(second.base_url)["pid"] == second.pid
    finally:
        second.stop()


def test_unplaceable_server_names_model_and_resource(executor, tmp_path):
    spec = _server_spec(tmp_path, "serve-nowhere", env={"VLMHB_RAY_RESOURCES": '{"tpu-v9": 1}'})
    with pytest.raises(
        ExecutorError, match=r"model 'toy' \(server 'serve-nowhere'\).*tpu-v9.*no node"
    ):
        executor.start_service(spec)


def test_killed_driver_takes_its_server_actor_along(ray_cluster: RayCluster, env_cache, tmp_path):
    """#22: a run killed with SIGKILL leaves no model server on any node."""
    spec = _server_spec(tmp_path, "serve-orphan", env={"VLMHB_RAY_RESOURCES": '{"second": 1}'})
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(
            f"""
            import json, sys, time
            from vlmhb_dependency_injector import EnvironmentManager
            from vlmhb_executor_api import ServiceSpec
            from vlmhb_ray_executor import RayExecutor
            ex = RayExecutor(EnvironmentManager({str(env_cache)!r}), {str(tmp_path)!r},
                             address={ray_cluster.address!r})
            service = ex.start_service(ServiceSpec.model_validate_json(sys.argv[1]))
            print(json.dumps({{"pid": service.pid, "url": service.base_url}}), flush=True)
            time.sleep(600)
            """
        ),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, str(driver), spec.model_dump_json()],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert _get(started["url"])["pid"] == started["pid"]
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert _gone(started["pid"], within_s=90), "the server outlived its driver"
