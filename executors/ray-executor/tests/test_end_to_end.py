"""The real CLI with ``--executor ray`` on the two-node cluster: the default experiment scores
like a local run, and a server actor killed during inference costs no sample."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, SECOND_IP, RayCluster, cli, quality, served_urls

PINNED = {"env": {"VLMHB_RAY_RESOURCES": '{"second": 1}'}}
"""Overlay for a model entry: its server may only run on the second node."""


def _overlay(root: Path, models: dict[str, dict]) -> Path:
    (root / "models").mkdir(parents=True, exist_ok=True)
    for name, data in models.items():
        (root / "models" / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return root


def _env(cluster: RayCluster, tmp_path: Path) -> dict[str, str]:
    return {**cluster.env, "VLMHB_USER_OVERLAY": str(tmp_path / "user-overlay")}


def test_default_experiment_scores_like_a_local_run(
    ray_cluster: RayCluster, local_default: Path, tmp_path: Path
):
    overlay = _overlay(tmp_path / "overlay", {"tesseract": PINNED})
    env = _env(ray_cluster, tmp_path)
    common = ["run", "default", "--limit", "2", "--overlay", str(overlay)]
    remote = cli(
        *common,
        "--executor",
        "ray",
        "--ray-address",
        ray_cluster.address,
        "--workdir",
        str(tmp_path / "ray"),
        env=env,
    )
    assert remote.returncode == 0, remote.stdout + remote.stderr

    report = Path("reports") / "default" / "leaderboard.csv"
    expected = quality(local_default / report)
    assert quality(tmp_path / "ray" / report) == expected
    assert expected and all(row["failed"] == "0" for row in expected.values())

    # the pinned model's server ran on the second node; the other one wherever Ray placed it
    served = served_urls(tmp_path / "ray", "default")
    assert served["serve tesseract"].startswith(f"http://{SECOND_IP}:"), served
    assert served["serve rapidocr"].startswith(("http://127.0.0.1:", f"http://{SECOND_IP}:"))

    from ray.util.state import list_tasks

    names = {t.name for t in list_tasks(address=ray_cluster.address, limit=10000)}
    assert any(n.startswith("vlmhb-sync-") for n in names), names
    assert any(n.startswith("vlmhb-eval-") for n in names), names


EXPERIMENT = {
    "description": "One tesseract run over enough samples to kill its server half way.",
    "matrix": {
        "models": ["tesseract"],
        "datasets": ["synthetic-docs-vqa"],
        "prompts": {"synthetic-docs-vqa": ["vqa-question"]},
        "limit": 24,
    },
    "reports": ["leaderboard"],
    "executor": "ray",
}


def _server_actor_pid(workdir: Path) -> int | None:
    """The pid of the Ray actor hosting this work dir's server (the parent of its
    ``vlmhb-serve`` process, whose command line names the work dir)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "vlmhb-serve" in cmdline and str(workdir) in cmdline:
                return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return None


def test_actor_killed_during_inference_costs_no_sample(ray_cluster: RayCluster, tmp_path: Path):
    experiment = tmp_path / "kill-mid-run.yaml"
    experiment.write_text(yaml.safe_dump(EXPERIMENT), encoding="utf-8")
    workdir = tmp_path / "work"
    env = {**_env(ray_cluster, tmp_path), "RUN_MODE": "dev", "COLUMNS": "200"}
    command = [sys.executable, "-m", "vlmhyperbench", "run", str(experiment)]
    run = subprocess.Popen(
        [*command, "--workdir", str(workdir), "--ray-address", ray_cluster.address],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    killed = None
    try:
        deadline = time.monotonic() + 1200
        while run.poll() is None and time.monotonic() < deadline and killed is None:
            answers = list(workdir.glob("runs/*/answers.jsonl"))
            if answers and len(answers[0].read_text(encoding="utf-8").splitlines()) >= 3:
                killed = _server_actor_pid(workdir)
                if killed:
                    os.kill(killed, signal.SIGKILL)  # the Ray worker process of the actor
            time.sleep(0.05)
        output, _ = run.communicate(timeout=1200)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert killed, f"the run ended before its server could be killed:\n{output}"
    assert run.returncode == 0, output

    (answers,) = workdir.glob("runs/*/answers.jsonl")
    ids = [json.loads(line)["id"] for line in answers.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == len(set(ids)), "a sample was answered twice"
    samples = (workdir / "datasets").glob("*/samples.jsonl")
    expected = [json.loads(x)["id"] for x in next(samples).read_text().splitlines()][:24]
    assert sorted(map(str, ids)) == sorted(map(str, expected))
    log = next(workdir.glob("servers/*/server.log")).read_text(encoding="utf-8")
    assert "restarting server" in log


@pytest.fixture(autouse=True)
def _no_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
