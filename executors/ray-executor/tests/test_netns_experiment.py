"""Issue 32: the Ray executor on three hosts that share no folder (``netns_cluster``), stage
folders through an S3-compatible bucket (moto on host ``a``).

The driver (``vlmhb run``) and the Ray head run on ``a`` with no CPUs for work, so every stage
runs on ``b`` or ``c``, each with its own disk: what the driver reads back came through the
bucket. The default experiment scores exactly like the local executor's run; a host killed
while a stage runs costs a re-run elsewhere and nothing else; the storage server restarted
while a worker uploads costs a retry, and the stage's outputs arrive whole.
"""

from __future__ import annotations

import csv
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, quality, served_urls
from .netns_cluster import NetnsCluster, skip_reason

pytestmark = pytest.mark.ray

BUCKET = "vlmhb-stages"
PINNED_TO_B = {"env": {"VLMHB_RAY_RESOURCES": '{"gpu-host": 1}'}}
"""Overlay for a model entry: its server runs on ``b``, the only host with ``gpu-host``."""


@pytest.fixture(scope="module")
def cluster(local_default: Path) -> Iterator[NetnsCluster]:
    # after the local reference run: it fills the uv cache the hosts see (read-only) as theirs
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with NetnsCluster(num_cpus={"a": 0, "b": 1, "c": 1}, resources={"b": {"gpu-host": 1}}) as c:
        c.s3_client().create_bucket(Bucket=BUCKET)
        yield c


def _fingerprints(workdir: Path) -> set[str]:
    return {
        json.loads(path.read_text(encoding="utf-8"))["fingerprint"]
        for path in workdir.glob("datasets/*/manifest.json")
    }


def _run_default(cluster: NetnsCluster, name: str, overlay: dict | None = None) -> subprocess.Popen:
    """``vlmhb run default --limit 2`` on host ``a``, everything of it under ``a``'s disk."""
    home = cluster.host_path / name
    extra: list[str] = []
    if overlay:
        folder = cluster.private_dir("a") / name / "overlay" / "models"
        folder.mkdir(parents=True)
        for model, data in overlay.items():
            (folder / f"{model}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        extra = ["--overlay", str(home / "overlay")]
    argv = [
        cluster.python,
        "-m",
        "vlmhyperbench",
        "run",
        "default",
        "--limit",
        "2",
        *extra,
        "--executor",
        "ray",
        "--ray-address",
        cluster.ray_address,
        "--ray-storage",
        f"s3://{BUCKET}/{name}",
        "--ray-storage-endpoint",
        cluster.s3_endpoint,
        "--workdir",
        str(home / "work"),
    ]
    env = {"RUN_MODE": "dev", "COLUMNS": "200", "VLMHB_USER_OVERLAY": str(home / "user-overlay")}
    return cluster.popen(
        "a", argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_default_experiment_across_hosts_scores_like_the_local_run(
    cluster: NetnsCluster, local_default: Path
):
    run = _run_default(cluster, "clean", overlay={"tesseract": PINNED_TO_B})
    output, _ = run.communicate(timeout=1500)
    assert run.returncode == 0, output

    driver = cluster.private_dir("a") / "clean" / "work"
    report = Path("reports") / "default" / "leaderboard.csv"
    expected = quality(local_default / report)
    assert quality(driver / report) == expected
    assert expected and all(row["failed"] == "0" for row in expected.values())
    assert _fingerprints(driver) == _fingerprints(local_default)  # the same data, byte for byte

    # every stage ran on b or c (a has no CPUs for work), on their own disks ...
    workers = [cluster.private_dir(h) / "clean" / "work" for h in ("b", "c")]
    assert any(list(w.glob("datasets/*/samples.jsonl")) for w in workers)
    assert any(list(w.glob("evals/*/metrics.json")) for w in workers)
    # ... and what the driver holds came through the bucket
    keys = {
        item["Key"]
        for page in cluster.s3_client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=BUCKET, Prefix="clean/fs/")
        for item in page.get("Contents", [])
    }
    evals = [m.relative_to(driver) for m in driver.glob("evals/*/metrics.json")]
    seen_as = cluster.host_path / "clean" / "work"  # the path every host knows it by
    assert evals and all(f"clean/fs{seen_as / m}" in keys for m in evals), sorted(keys)[:20]

    # the pinned model's server ran on b and was reached over the cluster network
    served = served_urls(driver, "default")
    assert served["serve tesseract"].startswith(f"http://{cluster.ip('b')}:"), served


WRITE_PARTS = (
    "import pathlib, sys; out = pathlib.Path(sys.argv[1]); "
    "[(out / f'part-{i:03d}').write_bytes(bytes([i % 251]) * 65536) for i in range(300)]; "
    "print('written')"
)
STAGE_ON_A_WORKER = r"""
import json, sys
from pathlib import Path
from vlmhb_dependency_injector import EnvironmentManager
from vlmhb_executor_api import StageSpec
from vlmhb_ray_executor import RayExecutor

address, storage, endpoint, work, write = sys.argv[1:6]
executor = RayExecutor(
    EnvironmentManager(), work, address=address, storage=storage, storage_endpoint=endpoint
)
out = Path(work) / "evals" / "parts"
spec = StageSpec(
    name="eval-parts", sources=[], output_dir=out, command=["python", "-c", write, str(out)]
)
try:
    outcome = executor.run(spec, lambda line: print(line, flush=True))
    moved = executor.transfers[-1].as_dict()
    print(json.dumps({"ok": outcome.ok, "moved": moved}), flush=True)
finally:
    executor.close()
"""


def test_storage_restarted_mid_upload_costs_a_retry_and_the_outputs_arrive_whole(
    cluster: NetnsCluster,
):
    work = cluster.host_path / "restart" / "work"
    run = cluster.popen(
        "a",
        [
            cluster.python,
            "-c",
            STAGE_ON_A_WORKER,
            cluster.ray_address,
            f"s3://{BUCKET}/restart",
            cluster.s3_endpoint,
            str(work),
            WRITE_PARTS,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    s3 = cluster.s3_client()
    prefix = f"restart/fs{work}/evals/parts/part-"
    restarted = False
    deadline = time.monotonic() + 600
    while run.poll() is None and time.monotonic() < deadline:
        found = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("KeyCount", 0)
        if 0 < found < 300:  # the worker is uploading the stage's outputs
            cluster.restart_storage(4)
            restarted = True
            break
        time.sleep(0.05)
    output, _ = run.communicate(timeout=600)
    assert restarted, f"the upload ended before the storage could be restarted:\n{output}"
    assert run.returncode == 0, output
    result = json.loads(output.strip().splitlines()[-1])
    assert result["ok"], output
    # the retry resumed: what the first attempt sent is not sent again, and all of it is there
    assert 0 < result["moved"]["worker_push"]["files"] <= 300
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["KeyCount"] == 300
    parts = sorted(
        (cluster.private_dir("a") / "restart" / "work" / "evals" / "parts").glob("part-*")
    )
    assert len(parts) == 300
    assert all(p.read_bytes() == bytes([int(p.name[5:]) % 251]) * 65536 for p in parts)


def _stage_task_host(cluster: NetnsCluster, title: str) -> str | None:
    """The host (b or c) where a Ray worker runs a task whose process title starts with
    ``title`` (Ray names a busy worker ``ray::<task name>``)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith(title):
            host = cluster.which_host(int(proc.name))
            if host in ("b", "c"):
                return host
    return None


def test_a_host_killed_mid_stage_reruns_it_elsewhere_and_counts_nothing_twice(
    cluster: NetnsCluster, local_default: Path
):
    # runs last: the killed host stays dead for the rest of the module
    run = _run_default(cluster, "killed")
    killed = None
    deadline = time.monotonic() + 900
    while run.poll() is None and time.monotonic() < deadline and killed is None:
        killed = _stage_task_host(cluster, "ray::vlmhb-sync-")
        if killed is None:
            time.sleep(0.05)
    if killed:
        cluster.kill_host(killed)
    output, _ = run.communicate(timeout=1500)
    assert killed, f"the run ended before a sync stage could be caught running:\n{output}"
    assert run.returncode == 0, output
    survivor = cluster.private_dir("c" if killed == "b" else "b") / "killed" / "work"
    assert list(survivor.glob("datasets/*/samples.jsonl")), "the sync did not run again elsewhere"

    driver = cluster.private_dir("a") / "killed" / "work"
    report = Path("reports") / "default" / "leaderboard.csv"
    assert quality(driver / report) == quality(local_default / report)
    for per_sample in driver.glob("evals/*/per_sample.csv"):
        with per_sample.open(encoding="utf-8", newline="") as handle:
            ids = [row["id"] for row in csv.DictReader(handle)]
        assert len(ids) == len(set(ids)), f"{per_sample}: a sample counted twice"
