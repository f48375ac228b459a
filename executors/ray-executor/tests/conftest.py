"""A real two-node Ray cluster on this machine's loopback, started once for the session.

Each node is a ``ray start --block`` process started here, so teardown signals exactly those
processes (``--block`` stops the node's own daemons when it ends), never Ray processes by name.
Ray replaces ``127.0.0.1`` by the machine's routable address (``resolve_ip_for_localhost``),
but keeps other loopback addresses: the head is ``127.0.0.2`` and the second node
``127.0.0.3``, so nothing is advertised off the machine.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HEAD_IP = "127.0.0.2"
SECOND_IP = "127.0.0.3"
START_TIMEOUT_S = 300  # a loaded 2-core machine takes a minute or more to start a node


@dataclass
class RayCluster:
    address: str
    dashboard: str
    temp_dir: Path
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(log: Path, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "block forever" in text:
            return
        if process.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not start; its log {log}:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _leftovers(marker: str) -> list[int]:
    """Processes whose command line names our cluster's temp dir (started by these nodes)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


# short: Ray's unix socket paths live under it and must stay below 108 bytes
_TEMP_DIR = Path(tempfile.mkdtemp(prefix="vlmhb-ray-", dir="/tmp"))


def pytest_configure(config: pytest.Config) -> None:
    """The cluster's own auth token (not the user's ``~/.ray`` one), in this process's
    environment before anything imports Ray: Ray reads ``RAY_AUTH_MODE`` once, at import."""
    token = _TEMP_DIR / "auth_token"
    token.write_text(secrets.token_hex(32), encoding="utf-8")
    token.chmod(0o600)
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)})


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_TEMP_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get("VLMHB_TEST_ENV_CACHE")
    return Path(shared) if shared else tmp_path_factory.mktemp("envs")


@pytest.fixture(scope="session")
def ray_cluster(env_cache: Path) -> Iterator[RayCluster]:
    ray_bin = Path(sys.executable).parent / "ray"
    temp_dir = _TEMP_DIR
    env = {
        **os.environ,
        "VLMHB_ENV_CACHE": str(env_cache),  # the nodes' own cache: here the test's
        "RAY_USAGE_STATS_ENABLED": "0",
        # storage-mode tests: each node reads S3 credentials from its own environment
        "AWS_ACCESS_KEY_ID": "vlmhb-test",
        "AWS_SECRET_ACCESS_KEY": "vlmhb-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("RAY_ADDRESS", None)
    port, dashboard_port = _free_port(), _free_port()
    head_log, second_log = temp_dir / "head.log", temp_dir / "second.log"
    common = ["--block", "--disable-usage-stats", f"--dashboard-agent-listen-port={_free_port()}"]
    head = subprocess.Popen(
        [
            str(ray_bin),
            "start",
            "--head",
            *common,
            f"--port={port}",
            f"--node-ip-address={HEAD_IP}",
            "--num-cpus=2",
            "--include-dashboard=true",  # the state API (`ray list tasks`) is served by it
            f"--dashboard-host={HEAD_IP}",
            f"--dashboard-port={dashboard_port}",
            f"--ray-client-server-port={_free_port()}",
            f"--temp-dir={temp_dir}",
        ],
        stdout=head_log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    processes = [head]
    try:
        _wait_for(head_log, head, "the Ray head")
        address = f"{HEAD_IP}:{port}"
        common[-1] = f"--dashboard-agent-listen-port={_free_port()}"
        second = subprocess.Popen(
            [
                str(ray_bin),
                "start",
                *common,
                f"--address={address}",
                f"--node-ip-address={SECOND_IP}",
                "--num-cpus=1",
                '--resources={"second": 1}',
            ],
            stdout=second_log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        processes.insert(0, second)
        _wait_for(second_log, second, "the second Ray node")
        yield RayCluster(address, f"http://{HEAD_IP}:{dashboard_port}", temp_dir, env)
    finally:
        for process in processes:
            _stop(process)
        for pid in _leftovers(str(temp_dir)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def ray_driver(ray_cluster: RayCluster) -> Iterator[RayCluster]:
    """This test process connected to the cluster (for the executor's in-process tests)."""
    import logging

    import ray

    ray.init(address=ray_cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield ray_cluster
    finally:
        ray.shutdown()


def cli(*args: str, env: dict[str, str], timeout: float = 1500) -> subprocess.CompletedProcess:
    """The real ``vlmhb`` CLI in dev mode against the repository's registries."""
    return subprocess.run(
        [sys.executable, "-m", "vlmhyperbench", *args],
        cwd=REPO,
        env={**env, "RUN_MODE": "dev", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def local_default(env_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default experiment (``--limit 2``) run with the local executor, once per session:
    the reference the Ray runs (loopback and network namespaces) must score exactly like."""
    root = tmp_path_factory.mktemp("local-default")
    env = {
        **os.environ,
        "VLMHB_ENV_CACHE": str(env_cache),
        "VLMHB_USER_OVERLAY": str(root / "user-overlay"),
    }
    env.pop("RAY_ADDRESS", None)
    done = cli("run", "default", "--limit", "2", "--workdir", str(root / "work"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "work"


def quality(path: Path) -> dict[str, dict[str, str]]:
    """Leaderboard rows by run, holding only the score columns (speed and memory differ)."""
    from vlmhb_reports import quality_columns

    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = quality_columns(list(reader.fieldnames or []))
        rows = {row["run"]: {c: row[c] for c in [*columns, "samples", "failed"]} for row in reader}
    assert columns, f"no quality columns in {path}"
    return rows


def served_urls(workdir: Path, experiment: str) -> dict[str, str]:
    """Where each model's server answered in a run (``serve <model>`` -> base URL), from its
    events."""
    path = workdir / "reports" / experiment / "events.jsonl"
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {
        e["name"]: e["outputs"]["base_url"]
        for e in events
        if e["type"] == "stage_finished" and e["stage_kind"] == "serve"
    }
