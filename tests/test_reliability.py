"""Crashes cost at most the samples in flight: SIGKILL of the run, death of the model server."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from conftest import SMALL_GENERATOR, write_overlay

SAMPLES = 6


def _overlay(root: Path) -> Path:
    # Full-page OCR: every sample is a different page, so each answer takes real Tesseract time.
    return write_overlay(
        root,
        {
            "datasets": {
                "small-ocr": {
                    "package": "vlmhb-dataset-factory",
                    "iterator": "jsonl",
                    "path_in_source": "ocr.jsonl",
                    "task": "ocr",
                    "generator": SMALL_GENERATOR,
                },
            },
            "models": {
                "tesseract-serial": {
                    "framework": "ocr",
                    "model": {"engine": "tesseract"},
                    "concurrency": 1,
                }
            },
            "experiments": {
                "crash": {
                    "matrix": {
                        "models": ["tesseract-serial"],
                        "datasets": ["small-ocr"],
                        "prompts": ["ocr-plain"],
                        "metrics": ["cer"],
                    }
                },
            },
        },
    )


def _answers(workdir: Path) -> list[dict]:
    files = list((workdir / "runs").glob("*/answers.jsonl")) if (workdir / "runs").exists() else []
    if not files:
        return []
    return [
        json.loads(line)
        for line in files[0].read_text(encoding="utf-8").splitlines()
        if line.endswith("}")
    ]


def _wait_for_answers(workdir: Path, count: int, proc, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while len(_answers(workdir)) < count:
        assert proc.poll() is None, f"run ended early:\n{proc.stdout.read().decode()}"
        assert time.monotonic() < deadline, "no answers in time"
        time.sleep(0.1)


def _requests_per_server_start(workdir: Path) -> list[int]:
    """Chat requests the model server logged after each start."""
    log = (workdir / "servers" / "tesseract-serial" / "server.log").read_text(
        encoding="utf-8", errors="replace"
    )
    segments = log.split("[vlmhb] starting server")[1:]
    return [segment.count("POST /v1/chat/completions") for segment in segments]


def test_sigkill_during_inference_then_rerun_completes_exactly_once(vlmhb, tmp_path: Path) -> None:
    overlay, workdir = _overlay(tmp_path / "overlay"), tmp_path / "work"
    # build the environments first, so the kill lands during inference, not during an install
    vlmhb("env", "build", "vlmhb-ocr-adapter", "vlmhb-api-wrapper", "--mode", "dev", check=True)
    proc = vlmhb(
        "run", "crash", "--workdir", str(workdir), "--overlay", str(overlay), background=True
    )
    _wait_for_answers(workdir, 2, proc)
    assert _server_pids(workdir), "model server process not found"
    os.killpg(proc.pid, signal.SIGKILL)  # the run's process group, as a terminal or scheduler does
    proc.wait()
    deadline = time.monotonic() + 15  # the server dies with its parent (no orphan on port)
    while _server_pids(workdir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _server_pids(workdir) == [], "the model server outlived the killed run"
    before = {a["id"] for a in _answers(workdir)}
    assert 2 <= len(before) < SAMPLES

    rerun = vlmhb("run", "crash", "--workdir", str(workdir), "--overlay", str(overlay))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    ids = [a["id"] for a in _answers(workdir)]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == SAMPLES
    assert all(a["parse_status"] != "failed" for a in _answers(workdir))
    # the second server was asked only for what was missing
    assert _requests_per_server_start(workdir)[-1] == SAMPLES - len(before)


def test_model_server_killed_mid_run_is_restarted(vlmhb, tmp_path: Path) -> None:
    overlay, workdir = _overlay(tmp_path / "overlay"), tmp_path / "work"
    proc = vlmhb(
        "run", "crash", "--workdir", str(workdir), "--overlay", str(overlay), background=True
    )
    _wait_for_answers(workdir, 2, proc)
    server_pids = _server_pids(workdir)
    assert server_pids, "model server process not found"
    for pid in server_pids:
        os.kill(pid, signal.SIGKILL)
    output = proc.communicate(timeout=600)[0].decode()
    assert proc.returncode == 0, output
    answers = _answers(workdir)
    assert len(answers) == SAMPLES and len({a["id"] for a in answers}) == SAMPLES
    assert all(a["parse_status"] != "failed" for a in answers), answers
    assert len(_requests_per_server_start(workdir)) == 2  # started, then restarted once


def test_sigterm_stops_the_run_and_its_server_and_leaves_it_resumable(
    vlmhb, tmp_path: Path
) -> None:
    overlay, workdir = _overlay(tmp_path / "overlay"), tmp_path / "work"
    proc = vlmhb(
        "run", "crash", "--workdir", str(workdir), "--overlay", str(overlay), background=True
    )
    _wait_for_answers(workdir, 1, proc)
    os.kill(proc.pid, signal.SIGTERM)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, output
    assert "run the same command again to resume" in output
    assert _server_pids(workdir) == []
    rerun = vlmhb("run", "crash", "--workdir", str(workdir), "--overlay", str(overlay))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert len({a["id"] for a in _answers(workdir)}) == SAMPLES


def test_a_server_left_by_a_dead_run_is_stopped_by_the_next_run(vlmhb, tmp_path: Path) -> None:
    """Where the parent-death signal could not act (another executor, another OS): the record."""
    overlay, workdir = _overlay(tmp_path / "overlay"), tmp_path / "work"
    proc = vlmhb(
        "run", "crash", "--workdir", str(workdir), "--overlay", str(overlay), background=True
    )
    _wait_for_answers(workdir, 1, proc)
    [record_path] = list((workdir / "servers").glob("*/server.json"))
    record = json.loads(record_path.read_text(encoding="utf-8"))
    status = vlmhb("status", "--workdir", str(workdir), check=True)
    assert str(record["pid"]) in status.stdout and "model servers" in status.stdout
    stopped = vlmhb("stop", "--workdir", str(workdir), check=True)
    assert "stopped run" in stopped.stdout
    proc.wait(timeout=60)
    assert _server_pids(workdir) == []
    assert not record_path.exists()


def _server_pids(workdir: Path) -> list[int]:
    """Live ``vlmhb-serve`` processes of this work dir (their config path names it)."""
    pids = []
    for proc_dir in Path("/proc").iterdir():
        cmdline = _cmdline(proc_dir) if proc_dir.name.isdigit() else ""
        if "vlmhb-serve" in cmdline and str(workdir) in cmdline:
            try:
                state = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                pids.append(int(proc_dir.name))
    return pids


def _cmdline(proc_dir: Path) -> str:
    try:
        return (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
