"""The namespace cluster harness itself: three hosts on their own addresses with their own
disks, Ray placing work by node, the S3 store reachable from every host and surviving a
restart, and a killed host noticed by Ray. The cluster starts once for the module."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from .netns_cluster import HOSTS, NetnsCluster, skip_reason

pytestmark = pytest.mark.ray

_PINNED_TASK = r"""
import json, logging, sys, ray
from pathlib import Path
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)

def where(path):
    marker = Path(path)
    return ray.util.get_node_ip_address(), marker.read_text() if marker.exists() else None

node = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeManagerAddress"] == sys.argv[2])
by_node = ray.remote(where).options(
    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
).remote(sys.argv[3])
by_resource = ray.remote(where).options(num_cpus=0, resources={"gpu-host": 1}).remote(sys.argv[3])
print(json.dumps(ray.get([by_node, by_resource], timeout=120)))
"""

_S3 = r"""
import sys, boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=sys.argv[1],
                  config=Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=5))
op, bucket, key = sys.argv[2:5]
if op == "put":
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=sys.argv[5].encode())
else:
    print(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode(), end="")
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[NetnsCluster]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with NetnsCluster(resources={"b": {"gpu-host": 1}}) as started:
        yield started


def _s3(cluster: NetnsCluster, host: str, *args: str, timeout: float = 60):
    return cluster.run(
        host, [cluster.python, "-c", _S3, cluster.s3_endpoint, *args], timeout=timeout
    )


def test_three_nodes_alive_on_their_own_addresses(cluster: NetnsCluster) -> None:
    nodes = cluster.nodes()
    assert sorted((n["host"], n["ip"], n["alive"]) for n in nodes) == [
        (h, cluster.ip(h), True) for h in HOSTS
    ]
    assert len({cluster.ip(h) for h in HOSTS}) == 3
    assert next(n for n in nodes if n["host"] == "b")["resources"].get("gpu-host") == 1
    for host in HOSTS:  # each host's own address is the one its network shows
        shown = cluster.run(host, ["ip", "-4", "-o", "addr", "show"], check=True).stdout
        assert cluster.ip(host) in shown
        assert all(cluster.ip(other) not in shown for other in HOSTS if other != host)


def test_a_file_on_one_host_is_not_seen_by_the_others(cluster: NetnsCluster) -> None:
    path = cluster.host_path / "only-on-b.txt"
    cluster.run("b", ["sh", "-c", f"echo b > {path}"], check=True)
    assert cluster.run("b", ["cat", str(path)], check=True).stdout == "b\n"
    for other in ("a", "c"):
        assert cluster.run(other, ["test", "-e", str(path)]).returncode == 1
    assert (cluster.private_dir("b") / "only-on-b.txt").read_text() == "b\n"
    assert not (cluster.private_dir("a") / "only-on-b.txt").exists()
    assert not (cluster.private_dir("c") / "only-on-b.txt").exists()
    assert not path.exists()  # nor at that path outside the hosts


def test_a_task_pinned_to_b_runs_on_b(cluster: NetnsCluster) -> None:
    marker = cluster.host_path / "whoami"
    cluster.run("b", ["sh", "-c", f"echo disk-of-b > {marker}"], check=True)
    done = cluster.run(
        "a",
        [cluster.python, "-c", _PINNED_TASK, cluster.ray_address, cluster.ip("b"), str(marker)],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    by_node, by_resource = json.loads(done.stdout.strip().splitlines()[-1])
    # the task's worker runs on b's address and sees b's disk
    assert by_node == [cluster.ip("b"), "disk-of-b\n"]
    assert by_resource == [cluster.ip("b"), "disk-of-b\n"]


def test_s3_put_on_b_is_got_on_c(cluster: NetnsCluster) -> None:
    put = _s3(cluster, "b", "put", "harness", "greeting.txt", "hello from b")
    assert put.returncode == 0, put.stderr[-3000:]
    got = _s3(cluster, "c", "get", "harness", "greeting.txt")
    assert got.returncode == 0, got.stderr[-3000:]
    assert got.stdout == "hello from b"


def test_storage_restart_keeps_data_and_refuses_meanwhile(cluster: NetnsCluster) -> None:
    put = _s3(cluster, "b", "put", "harness", "before-restart.txt", "kept")
    assert put.returncode == 0, put.stderr[-3000:]
    cluster.restart_storage(2)
    # asked from this process, so the request surely falls in the 2 s window (a host process
    # would spend that long importing boto3)
    client = cluster.s3_client(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1)
    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        client.head_object(Bucket="harness", Key="before-restart.txt")
    cluster.wait_storage(timeout=60)
    after = _s3(cluster, "c", "get", "harness", "before-restart.txt")
    assert after.returncode == 0, after.stderr[-3000:]
    assert after.stdout == "kept"


def test_a_killed_host_is_dead_to_ray(cluster: NetnsCluster) -> None:
    worker = cluster.popen(
        "c", ["sh", "-c", "echo up; exec sleep 600"], stdout=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None and worker.stdout.readline() == "up\n"  # in c by now
    assert cluster.which_host(worker.pid) == "c"
    cluster.kill_host("c")
    assert worker.wait(10) == -9
    nodes = cluster.wait_nodes(alive={"a", "b"}, dead={"c"}, timeout=60)
    assert {n["host"]: n["alive"] for n in nodes} == {"a": True, "b": True, "c": False}
    with pytest.raises(RuntimeError, match="host c was killed"):
        cluster.run("c", ["true"])
