"""The eval script run as the core runs it: ``python -m vlmhb_stages.evaluate CONFIG.json`` in a
separate process, on files written the way the sync and infer stages write them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vlmhb_stages import EVENT_PREFIX, EvalConfig, MetricSpec

HERE = Path(__file__).parent
SAMPLES = [
    ("1", "passport", "surname", "IVANOV", "Ivanov"),
    ("2", "passport", "name", "IVAN", "Petr"),
    ("3", "invoice", "total", "12.50", "12.50"),
    ("4", "invoice", "total", "7", None),  # a failed request: no answer
]


def _files(tmp_path: Path) -> tuple[Path, Path]:
    samples, answers = tmp_path / "samples.jsonl", tmp_path / "answers.jsonl"
    samples.write_text(
        "".join(
            json.dumps({"id": i, "doc_class": d, "question_type": q, "reference": r}) + "\n"
            for i, d, q, r, _ in SAMPLES
        )
    )
    answers.write_text(
        "".join(
            json.dumps({"id": i, "answer": a, "parse_status": "failed" if a is None else "text"})
            + "\n"
            for i, _, _, _, a in SAMPLES
        )
    )
    return samples, answers


def _run(config_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    return subprocess.run(
        [sys.executable, "-m", "vlmhb_stages.evaluate", str(config_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _config(tmp_path: Path, **changes: object) -> Path:
    samples, answers = _files(tmp_path)
    config = EvalConfig(
        out_dir=str(tmp_path / "out"),
        samples=str(samples),
        answers=str(answers),
        output_kind="text",
        aggregators=["general", "by_doc_type"],
        metrics=[
            MetricSpec(name="exact", column="exact", version="1", callable="toy_metrics:exact")
        ],
    )
    path = tmp_path / "evaluate.config.json"
    path.write_text(config.model_copy(update=changes).model_dump_json())
    return path


def test_scores_aggregates_and_reports_progress(tmp_path: Path) -> None:
    proc = _run(_config(tmp_path))
    assert proc.returncode == 0, proc.stderr
    events = [
        json.loads(x[len(EVENT_PREFIX) :])
        for x in proc.stdout.splitlines()
        if x.startswith(EVENT_PREFIX)
    ]
    assert events == [{"type": "stage_progress", "done": 1, "total": 1}]
    out = tmp_path / "out"
    with (out / "per_sample.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["exact"], r["parse_status"]) for r in rows] == [
        ("1", "1.0", "text"),
        ("2", "0.0", "text"),
        ("3", "1.0", "text"),
        ("4", "0.0", "failed"),
    ]
    with (out / "metrics_by_doc_type.csv").open(newline="") as handle:
        by_type = {r["doc_class"]: (r["samples"], r["exact"]) for r in csv.DictReader(handle)}
    assert by_type == {"invoice": ("2", "0.5"), "passport": ("2", "0.5")}
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["metrics"] == {"exact": 0.5}
    assert summary["samples"] == 4 and summary["failed"] == 1
    assert summary["versions"] == {"exact": "exact@1"}
    assert not list(out.glob("*.tmp"))


def test_a_config_from_another_release_fails_naming_the_field(tmp_path: Path) -> None:
    path = _config(tmp_path)
    data = json.loads(path.read_text())
    data["aggregator"] = data.pop("aggregators")  # renamed on one side only
    path.write_text(json.dumps(data))
    proc = _run(path)
    assert proc.returncode != 0
    assert "aggregators" in proc.stderr and "Field required" in proc.stderr
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_an_uninstalled_metric_is_named(tmp_path: Path) -> None:
    spec = MetricSpec(name="anls", column="anls", version="1", entry_point="anls")
    proc = _run(_config(tmp_path, metrics=[spec]))
    assert proc.returncode != 0
    assert "metric 'anls': no entry point 'anls' in group vlmhyperbench.metrics" in proc.stderr
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.parametrize("name", ["prepare_dataset", "evaluate", "parity", "upload_bundle"])
def test_every_script_is_importable_without_the_core(name: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import vlmhb_stages.{name}, sys; assert 'vlmhyperbench' not in sys.modules",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_a_metric_that_refuses_the_data_is_one_line_naming_it_and_the_run(tmp_path: Path) -> None:
    """Issue 29: DocVQA-layout answers (a list per sample) under a single-reference metric
    crashed the stage with a traceback. A metric's ValueError now ends the stage with one
    line naming the metric, the run and the sample; nothing is left half-written."""
    spec = MetricSpec(
        name="cer", column="cer", version="1", callable="toy_metrics:single_reference"
    )
    path = _config(tmp_path, metrics=[spec], label="tesseract / docvqa-val / vqa-question")
    samples = tmp_path / "samples.jsonl"
    rows = [json.loads(x) for x in samples.read_text().splitlines()]
    rows[1]["reference"] = ["IVAN", "Ivan"]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = _run(path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == (
        "metric 'cer' on tesseract / docvqa-val / vqa-question cannot score this dataset: "
        "references[1] is list; expected a string"
    )
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_parity_passes_sample_fields_to_every_variant(tmp_path: Path) -> None:
    """OCRBench's score needs each sample's doc_class; the parity stage used to call metrics
    with predictions and references only."""
    from vlmhb_stages import ParityConfig, ParityRun

    samples, answers = _files(tmp_path)
    spec = MetricSpec(
        name="by_class", column="by_class", version="1", callable="toy_metrics:by_class"
    )
    variant = spec.model_copy(update={"column": "by_class@strict", "params": {"compat": "strict"}})
    run = ParityRun(
        label="m/d/p",
        samples=str(samples),
        answers=str(answers),
        output_kind="text",
        metrics=[spec, variant],  # a task listing a metric and its variant: compared once
    )
    path = tmp_path / "parity.config.json"
    path.write_text(ParityConfig(out=str(tmp_path / "parity.json"), runs=[run]).model_dump_json())
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.run(
        [sys.executable, "-m", "vlmhb_stages.parity", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "parity.json").read_text())
    assert len(rows) == 2
    values = {r["variant"]: (r["value"], r["differ"]) for r in rows}
    # answers: IVANOV/Ivanov (0), IVAN/Petr (0), 12.50 (1, invoice), "" for 7 (0)
    assert values == {"ours": (0.25, 0.0), "strict": (0.0, 0.25)}


def test_a_metrics_per_sample_text_and_report_are_kept(tmp_path: Path) -> None:
    spec = MetricSpec(name="graded", column="graded", version="1", callable="toy_metrics:graded")
    path = _config(tmp_path, metrics=[spec])
    samples = tmp_path / "samples.jsonl"
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    samples.write_text(
        "".join(json.dumps({**r, "prompt_vars": {"question": f"q{r['id']}"}}) + "\n" for r in rows)
    )
    proc = _run(path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    with (out / "per_sample.csv").open(newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [(r["graded"], r["graded_verdict"], r["graded_rationale"]) for r in written] == [
        ("1.0", "correct", "asked 'q1'"),
        ("0.0", "incorrect", "asked 'q2'"),
        ("1.0", "correct", "asked 'q3'"),
        ("0.0", "incorrect", "asked 'q4'"),
    ]
    assert json.loads((out / "metrics.json").read_text())["reports"] == {"graded": {"judged": 4}}
