"""Storage mode on the loopback cluster: stage folders and a server's secrets travel through an
S3-compatible bucket (moto's real server) instead of the filesystem. The netns test
(``test_netns_experiment``) shows the same with hosts that share no folder; here the bytes
are counted and the bucket inspected."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from cryptography.exceptions import InvalidTag
from moto.server import ThreadedMotoServer
from vlmhb_dependency_injector import EnvironmentManager
from vlmhb_ray_executor import RayExecutor
from vlmhb_ray_executor.sealed import new_private_key, open_sealed, public_bytes, seal
from vlmhb_ray_executor.transfer import ObjectStore
from vlmhyperbench.executors import ExecutorError, StageSpec

from .conftest import RayCluster
from .test_executor import _get, _server_spec

KEY = "sk-sealed-Zq93-never-in-a-task-argument"


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    os.environ.update(
        AWS_ACCESS_KEY_ID="vlmhb-test",
        AWS_SECRET_ACCESS_KEY="vlmhb-test-secret",
        AWS_DEFAULT_REGION="us-east-1",
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="stages")
    yield endpoint
    server.stop()


@pytest.fixture
def stored(ray_driver: RayCluster, env_cache: Path, s3_endpoint: str, tmp_path: Path):
    executor = RayExecutor(
        EnvironmentManager(env_cache),
        tmp_path / "work",
        storage=f"s3://stages/{tmp_path.name}",
        storage_endpoint=s3_endpoint,
    )
    yield executor
    executor.close()


def _keys(endpoint: str, prefix: str) -> dict[str, int]:
    client = boto3.client("s3", endpoint_url=endpoint)
    found = client.list_objects_v2(Bucket="stages", Prefix=prefix).get("Contents", [])
    return {item["Key"][len(prefix) :]: item["Size"] for item in found}


def test_stage_folders_travel_through_the_bucket_and_each_byte_moves_once(
    stored: RayExecutor, s3_endpoint: str, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.txt").write_text("x" * 5000, encoding="utf-8")
    out = tmp_path / "work" / "evals" / "abc"
    spec = StageSpec(
        name="eval-abc",
        sources=[],
        command=[
            "python",
            "-c",
            f"import pathlib; t = pathlib.Path({str(data / 'input.txt')!r}).read_text(); "
            f"pathlib.Path({str(out / 'result.txt')!r}).write_text(t.upper()); print('scored')",
        ],
        output_dir=out,
        mounts=[data],
        env={"VLMHB_RAY_RESOURCES": '{"second": 1}'},
    )
    lines: list[str] = []
    outcome = stored.run(spec, lines.append)
    assert outcome.ok, outcome.output_tail
    assert "scored" in lines
    assert (out / "result.txt").read_text() == "X" * 5000
    prefix = f"{tmp_path.name}/fs"
    stored_keys = _keys(s3_endpoint, prefix)
    assert stored_keys[f"{data}/input.txt"] == 5000
    assert stored_keys[f"{out}/result.txt"] == 5000
    assert not any(".vlmhb-ray-probe" in key for key in stored_keys)  # no shared-FS probe
    [moved] = stored.transfers
    assert moved.driver_push.bytes == 5000  # the input, once (the folder starts empty)
    assert moved.worker_push.bytes >= 5000 and moved.worker_push.files >= 1
    assert any("through object storage" in line for line in lines)

    # again: nothing changed, so nothing moves up; only the worker's new lock file if any
    stored.transfers.clear()
    assert stored.run(spec).ok
    [again] = stored.transfers
    assert again.driver_push.bytes == 0


def test_a_bucket_that_does_not_exist_fails_the_stage_naming_it(
    ray_driver: RayCluster, env_cache: Path, s3_endpoint: str, tmp_path: Path
):
    executor = RayExecutor(
        EnvironmentManager(env_cache),
        tmp_path / "work",
        storage="s3://no-such-bucket/x",
        storage_endpoint=s3_endpoint,
    )
    executor.store = ObjectStore("s3://no-such-bucket/x", s3_endpoint, attempts=1)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a").write_text("a")
    spec = StageSpec(
        name="eval-nobucket",
        sources=[],
        command=["python", "-c", "print(1)"],
        output_dir=tmp_path / "work" / "evals" / "x",
        mounts=[tmp_path / "in"],
    )
    try:
        with pytest.raises(ExecutorError, match=r"no-such-bucket.*does not exist"):
            executor.run(spec)
    finally:
        executor.close()


def test_bad_storage_urls_are_refused_before_anything_runs(env_cache: Path, tmp_path: Path):
    manager = EnvironmentManager(env_cache)
    with pytest.raises(ExecutorError, match="expected s3://BUCKET"):
        RayExecutor(manager, tmp_path, storage="/mnt/shared")
    with pytest.raises(ExecutorError, match="credentials in the URL"):
        RayExecutor(
            manager, tmp_path, storage="s3://b/p", storage_endpoint="http://id:secret@h:9000"
        )


def test_server_secrets_reach_the_actor_sealed_and_land_as_its_own_file(
    stored: RayExecutor, s3_endpoint: str, tmp_path: Path
):
    spec = _server_spec(
        tmp_path,
        "serve-sealed",
        env={"VLMHB_RAY_RESOURCES": '{"second": 1}'},
        secrets={"api_key": KEY},
    )
    spec = spec.model_copy(
        update={"command": [*spec.command[:2], "--key-file", "{secret:api_key}", *spec.command[2:]]}
    )
    script = Path(spec.command[1])
    script.write_text(
        script.read_text()
        .replace(
            'parser.add_argument("--host")',
            'parser.add_argument("--host")\nparser.add_argument("--key-file")',
        )
        .replace(
            '"omp": omp}',
            '"omp": omp, "key": open(args.key_file).read()}',
        )
    )
    spec.log_dir.mkdir(parents=True)
    (spec.log_dir / "model.txt").write_text("a model config the server's node fetches")
    service = stored.start_service(spec)
    try:
        answer = _get(service.base_url)
        assert answer["key"] == KEY  # the server read the key from a file on its node
        # ... not in the server's folder, which travels through the bucket
        assert not (spec.log_dir / "secrets").exists()
    finally:
        service.stop()
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    objects = client.list_objects_v2(Bucket="stages", Prefix=tmp_path.name).get("Contents", [])
    assert any(o["Key"].endswith("serve-sealed/model.txt") for o in objects), objects
    for item in objects:
        body = client.get_object(Bucket="stages", Key=item["Key"])["Body"].read()
        assert KEY.encode() not in body, item["Key"]


def test_sealed_secrets_open_only_with_the_actors_key():
    private = new_private_key()
    blob = seal({"api_key": KEY}, public_bytes(private))
    assert KEY.encode() not in blob
    assert open_sealed(blob, private) == {"api_key": KEY}
    with pytest.raises(InvalidTag):  # another key: cannot open
        open_sealed(blob, new_private_key())
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(InvalidTag):
        open_sealed(tampered, private)
