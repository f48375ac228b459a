"""Run artifact upload and the CLI against a real S3-compatible server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import SECRET
from vlmhb_data_layer import DataLayerError, upload_run
from vlmhb_data_layer.cli import main


def _run_folder(root: Path) -> Path:
    run = root / "run-1"
    (run / "evals").mkdir(parents=True)
    (run / "answers.jsonl").write_text('{"id": "1", "answer": "x"}\n')
    (run / "evals" / "metrics.json").write_text('{"cer": 0.1}')
    (run / "big.bin").write_bytes(b"\x01" * (6 * 2**20))
    return run


def _keys(s3, prefix: str) -> set[str]:
    return {
        o["Key"]
        for o in s3.client.list_objects_v2(Bucket="data", Prefix=prefix).get("Contents", [])
    }


def test_upload_with_manifest_then_skip_unchanged(s3, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    run = _run_folder(tmp_path)
    first = upload_run(
        run, "s3://data/results", "run-1", endpoint_url=s3.endpoint, multipart_threshold=5 * 2**20
    )
    assert first.ok and sorted(first.uploaded) == ["answers.jsonl", "big.bin", "evals/metrics.json"]
    assert _keys(s3, "results/run-1/") == {
        "results/run-1/answers.jsonl",
        "results/run-1/big.bin",
        "results/run-1/evals/metrics.json",
        "results/run-1/manifest.json",
    }
    head = s3.client.head_object(Bucket="data", Key="results/run-1/big.bin")
    assert "-" in head["ETag"]  # a multipart upload's ETag
    manifest = json.loads(
        s3.client.get_object(Bucket="data", Key="results/run-1/manifest.json")["Body"].read()
    )
    assert manifest["answers.jsonl"]["size"] == 27

    (run / "answers.jsonl").write_text('{"id": "1", "answer": "y"}\n')
    second = upload_run(run, "s3://data/results", "run-1", endpoint_url=s3.endpoint)
    assert second.uploaded == ["answers.jsonl"] and len(second.skipped) == 2
    assert SECRET not in caplog.text


def test_transient_errors_are_retried(s3, tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    failures = {"left": 2}

    def flaky(params, **_):  # botocore hook: the first two PutObject calls fail
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionResetError("connection reset by peer")

    from vlmhb_data_layer import S3Storage

    storage = S3Storage("data", "results/run-1", endpoint_url=s3.endpoint, max_attempts=1)
    storage.client.meta.events.register("before-call.s3.PutObject", flaky)
    result = upload_run(
        run,
        "s3://data/results",
        "run-1",
        endpoint_url=s3.endpoint,
        backoff_s=0.01,
        client=storage.client,
    )
    assert result.ok and failures["left"] == 0


def test_failed_upload_lists_what_is_missing_and_keeps_local_files(s3, tmp_path: Path) -> None:
    from vlmhb_data_layer import S3Storage

    run = _run_folder(tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    storage = S3Storage("data", "results/run-1", endpoint_url=s3.endpoint, max_attempts=1)
    storage.client.meta.events.register("after-call.s3.PutObject", lambda **_: s3.stop())
    result = upload_run(
        run,
        "s3://data/results",
        "run-1",
        endpoint_url=s3.endpoint,
        retries=1,
        backoff_s=0.01,
        client=storage.client,
    )
    assert not result.ok
    assert result.uploaded == ["answers.jsonl"]  # the server went away after the first file
    assert result.missing == ["big.bin", "evals/metrics.json", "manifest.json"]
    assert (
        result.errors["big.bin"].startswith("uploading")
        and "cannot reach" in result.errors["big.bin"]
    )
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_cli_upload_run_keeps_the_bundle_format(s3, tmp_path: Path, capsys) -> None:
    run = _run_folder(tmp_path)
    assert main(["upload-run", str(run), "s3://data/up", "--endpoint-url", s3.endpoint]) == 0
    assert "transferred 3, skipped 0, failed 0" in capsys.readouterr().out
    assert "up/run-1/manifest.json" in _keys(s3, "up/run-1/")
    assert (
        main(
            [
                "upload-run",
                str(run),
                "s3://data/up",
                "--run-id",
                "again",
                "--endpoint-url",
                s3.endpoint,
            ]
        )
        == 0
    )
    assert "up/again/evals/metrics.json" in _keys(s3, "up/again/")
    assert main(["upload-run", str(tmp_path / "missing"), "s3://data/up"]) == 2
    assert "expected an existing folder" in capsys.readouterr().err
    assert main(["upload-run", str(run), "ftp://x/y"]) == 2
    assert "expected an s3:// URL" in capsys.readouterr().err


def test_upload_never_follows_a_link_out_of_the_run_folder(s3, tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    secret = tmp_path / "outside.txt"
    secret.write_text("not for upload")
    (run / "stolen.txt").symlink_to(secret)
    (run / "stolen-dir").symlink_to(tmp_path, target_is_directory=True)
    (run / "alias.jsonl").symlink_to(run / "answers.jsonl")  # inside the folder: read as a file
    result = upload_run(run, "s3://data/results", "run-1", endpoint_url=s3.endpoint)
    assert result.ok
    keys = _keys(s3, "results/run-1/")
    assert "results/run-1/stolen.txt" not in keys
    assert not any("stolen-dir" in key for key in keys)
    assert "results/run-1/alias.jsonl" in keys
    assert any("stolen.txt" in w and "out of the source folder" in w for w in result.warnings)
    assert any("stolen-dir" in w for w in result.warnings)


def test_run_id_cannot_escape_the_url(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    with pytest.raises(DataLayerError, match="refusing key"):
        upload_run(run, str(tmp_path / "store"), "../../outside")
