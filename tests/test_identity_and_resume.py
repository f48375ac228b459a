"""One identity, one resume rule (issue: core re-cut), through the real CLI in dev mode.

An edit to a local metric package re-runs evaluation only; an edit to the adapter re-runs its
inference; failed samples are retried on the next run (a server is started for them), until
they have used their attempts.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from conftest import REPO, SMALL_GENERATOR, write_overlay


def _events(workdir: Path) -> list[dict]:
    path = workdir / "reports" / "edits" / "events.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _started_in_last_run(workdir: Path) -> set[str]:
    events = _events(workdir)
    last = max(i for i, e in enumerate(events) if e["type"] == "stage_planned")
    first_of_last = last
    while first_of_last > 0 and events[first_of_last - 1]["type"] == "stage_planned":
        first_of_last -= 1
    return {e["stage_kind"] for e in events[first_of_last:] if e["type"] == "stage_started"}


def _overlay(root: Path, packages: dict[str, Path]) -> Path:
    return write_overlay(
        root,
        {
            "packages": {
                name: {"type": "local", "path": str(path)} for name, path in packages.items()
            },
            "datasets": {
                "tiny-vqa": {
                    "package": "vlmhb-dataset-factory",
                    "iterator": "vqa-csv",
                    "task": "vqa",
                    "generator": SMALL_GENERATOR,
                    "options": {"doc_class": "passport"},
                },
            },
            "models": {
                "tesseract-once": {
                    "framework": "ocr",
                    "model": {"engine": "tesseract"},
                    "concurrency": 1,
                    "retries": {"per_run": 1, "max_attempts": 2},
                }
            },
            "experiments": {
                "edits": {
                    "matrix": {
                        "models": ["tesseract-once"],
                        "datasets": ["tiny-vqa"],
                        "prompts": ["vqa-question"],
                        "metrics": ["anls", "cer"],
                        "limit": 4,
                    },
                },
            },
        },
    )


def _copy_package(folder: str, tmp_path: Path) -> Path:
    target = tmp_path / "pkgs" / Path(folder).name
    shutil.copytree(
        REPO / folder, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
    )
    return target


def _run(vlmhb, workdir: Path, overlay: Path):
    return vlmhb("run", "edits", "--workdir", str(workdir), "--overlay", str(overlay), check=True)


def test_editing_a_metric_reruns_eval_and_editing_the_adapter_reruns_inference(
    vlmhb, tmp_path: Path
) -> None:
    metrics = _copy_package("metrics/text-metrics", tmp_path)
    adapter = _copy_package("adapters/ocr-adapter", tmp_path)
    overlay = _overlay(
        tmp_path / "overlay", {"vlmhb-text-metrics": metrics, "vlmhb-ocr-adapter": adapter}
    )
    workdir = tmp_path / "work"
    _run(vlmhb, workdir, overlay)
    _run(vlmhb, workdir, overlay)
    assert _started_in_last_run(workdir) == {"report"}, "an unchanged re-run must be cached"

    edited = metrics / "src" / "vlmhb_text_metrics" / "__init__.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    _run(vlmhb, workdir, overlay)
    assert _started_in_last_run(workdir) == {"eval", "report"}

    edited = adapter / "src" / "vlmhb_ocr_adapter" / "__init__.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    _run(vlmhb, workdir, overlay)
    assert _started_in_last_run(workdir) == {"serve", "infer", "eval", "report"}


def _answers_file(workdir: Path) -> Path:
    [path] = list((workdir / "runs").glob("*/answers.jsonl"))
    return path


def test_failed_samples_are_retried_until_their_attempts_are_used(vlmhb, tmp_path: Path) -> None:
    overlay = _overlay(tmp_path / "overlay", {})
    workdir = tmp_path / "work"
    _run(vlmhb, workdir, overlay)
    answers = _answers_file(workdir)
    records = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4 and all(r["parse_status"] != "failed" for r in records)

    # What a run whose remaining samples all failed leaves on disk: 3 failed, not done.
    for record in records[1:]:
        record.update(answer=None, parse_status="failed", error="HTTP 500: boom", attempts=1)
    answers.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (answers.parent / ".done").unlink()

    _run(vlmhb, workdir, overlay)
    assert {"serve", "infer"} <= _started_in_last_run(workdir)
    retried = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines()]
    assert len(retried) == 4 and all(r["parse_status"] != "failed" for r in retried)
    assert [r["attempts"] for r in retried[1:]] == [2, 2, 2]  # one more request each
    assert (answers.parent / ".done").is_file()

    # A sample that used all its attempts stays failed: nothing is sent for it any more.
    retried[0].update(answer=None, parse_status="failed", error="HTTP 500: boom", attempts=2)
    answers.write_text("".join(json.dumps(r) + "\n" for r in retried), encoding="utf-8")
    (answers.parent / ".done").unlink()
    (workdir / "evals").rename(tmp_path / "old-evals")
    _run(vlmhb, workdir, overlay)
    assert "serve" not in _started_in_last_run(workdir)
    assert (answers.parent / ".done").is_file()
    [row] = csv.DictReader((workdir / "reports" / "edits" / "leaderboard.csv").open())
    assert (row["samples"], row["failed"]) == ("4", "1")


def test_a_local_dataset_is_named_by_its_content(vlmhb, tmp_path: Path) -> None:
    """Issue 29: rewriting identical files or pinning the checksum re-runs nothing; a wrong
    pin fails the sync that was skipped as done; changed content re-runs what reads it."""
    from vlmhb_synthetic_docs import generate

    data = tmp_path / "data"
    generate(data, **SMALL_GENERATOR["params"])
    entry = {
        "package": "vlmhb-dataset-factory",
        "iterator": "vqa-csv",
        "task": "vqa",
        "source": str(data),
        "options": {"doc_class": "passport"},
    }

    def overlay(checksum: str | None = None) -> Path:
        dataset = {**entry, **({"checksum": checksum} if checksum else {})}
        return write_overlay(
            tmp_path / "overlay",
            {
                "datasets": {"local-vqa": dataset},
                "experiments": {
                    "edits": {
                        "matrix": {
                            "models": ["tesseract"],
                            "datasets": ["local-vqa"],
                            "prompts": ["vqa-question"],
                            "metrics": ["anls"],
                        },
                    },
                },
            },
        )

    workdir = tmp_path / "work"
    _run(vlmhb, workdir, overlay())
    [manifest] = list((workdir / "datasets").glob("*/manifest.json"))
    fingerprint = json.loads(manifest.read_text(encoding="utf-8"))["fingerprint"]

    for file in sorted(p for p in data.rglob("*") if p.is_file()):  # same bytes, new times
        file.write_bytes(file.read_bytes())
    _run(vlmhb, workdir, overlay())
    assert _started_in_last_run(workdir) == {"report"}, "identical data must be a cache hit"

    wrong = "sha256:" + "0" * 64
    failed = vlmhb("run", "edits", "--workdir", str(workdir), "--overlay", str(overlay(wrong)))
    assert failed.returncode != 0
    assert fingerprint in failed.stdout + failed.stderr and wrong in failed.stdout + failed.stderr
    assert "infer" not in _started_in_last_run(workdir)

    _run(vlmhb, workdir, overlay(fingerprint))
    assert _started_in_last_run(workdir) == {"report"}, "pinning the data it has re-runs nothing"

    annotation = data / "annotation.csv"
    text = annotation.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    rows[0]["answer"] += " (corrected)"  # one reference changes
    with annotation.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    _run(vlmhb, workdir, overlay())
    assert {"sync", "infer", "eval"} <= _started_in_last_run(workdir)
