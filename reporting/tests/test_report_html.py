"""The leaderboard, report.html and the figures, on a small work dir written by the test.

The work dir holds the files the stages write (run.json, answers.jsonl, samples.jsonl with
real PNG images, per_sample.csv, metrics_<aggregator>.csv, metrics.json); the report writers
read them as they do after a real run. Optionally, the page is rendered by headless Chromium
(when installed) and the screenshot kept for a person to look at (``VLMHB_SCREENSHOT_DIR``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from vlmhb_reports import (
    CompareError,
    ReportDataError,
    ReportKindError,
    RunEntry,
    build_figures,
    compare,
    load_experiment,
    write_reports,
)

LONG_FIELD = "Место рождения (город, область, страна — полностью)"
DOCS = [
    ("0", "passport", "Фамилия", "ИВАНОВ"),
    ("1", "passport", LONG_FIELD, "г. Москва"),
    ("2", "invoice", "Total amount", "1 250.00"),
    ("3", "invoice", "Invoice number", "INV-0042"),
    ("4", "snils", "Номер", "123-456-789 01"),
    ("5", "snils", "Фамилия", "ПЕТРОВА"),
]


def _png(path: Path, width: int = 120, height: int = 80, shade: int = 200) -> None:
    """A real PNG written with the standard library (the core does not depend on Pillow)."""
    raw = b"".join(b"\x00" + bytes([shade, 255 - shade, 120]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _run_files(
    workdir: Path, infer_id: str, eval_id: str, sync_id: str, scores: list[float], limit: int
) -> dict:
    """The files one run's infer and eval stages write; returns metrics.json."""
    run_dir, eval_dir = workdir / "runs" / infer_id, workdir / "evals" / eval_id
    run_dir.mkdir(parents=True)
    eval_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "infer_id": infer_id,
                "sync_id": sync_id,
                "filters": {"doc_class": ["passport", "invoice", "snils"], "question_type": None},
                "limit": limit,
                "generation": {"max_tokens": 64, "temperature": 0.0, "top_p": None},
                "prompt_collection": {},
            }
        ),
        encoding="utf-8",
    )
    answers, per_sample = [], []
    for (sid, doc, question, reference), score in zip(DOCS, scores, strict=True):
        failed = score < 0
        answers.append(
            {
                "id": sid,
                "answer": None if failed else f"<{reference[::-1]}>",
                "parse_status": "failed" if failed else "text",
                "error": "HTTP 500: backend exploded" if failed else None,
                "latency_s": 0.2 + 0.05 * int(sid),
                "started_at": 100.0 + int(sid),
                "finished_at": 100.5 + int(sid),
                "doc_class": doc,
                "question_type": question,
            }
        )
        per_sample.append(
            {
                "id": sid,
                "doc_class": doc,
                "question_type": question,
                "parse_status": "failed" if failed else "text",
                "answer": "" if failed else f"<{reference[::-1]}>",
                "anls": "" if failed else score,
                "cer": "" if failed else round(1 - score, 3),
            }
        )
    (run_dir / "answers.jsonl").write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers), encoding="utf-8"
    )
    _write_csv(eval_dir / "per_sample.csv", per_sample)
    by_type, by_question = [], []
    for doc in ("invoice", "passport", "snils"):
        values = [s for s, d in zip(scores, DOCS, strict=True) if d[1] == doc and s >= 0]
        mean = sum(values) / len(values) if values else 0.0
        by_type.append({"doc_class": doc, "samples": 2, "anls": mean, "cer": 1 - mean})
    for (_sid, doc, question, _ref), score in zip(DOCS, scores, strict=True):
        value = max(score, 0.0)
        row = {"doc_class": doc, "question_type": question, "samples": 1, "anls": value}
        by_question.append({**row, "cer": 1 - value})
    _write_csv(eval_dir / "metrics_by_doc_type.csv", by_type)
    _write_csv(eval_dir / "metrics_by_doc_question.csv", by_question)
    valid = [s for s in scores if s >= 0]
    summary = {
        "metrics": {"anls": sum(valid) / len(valid), "cer": 1 - sum(valid) / len(valid)},
        "ci": {"anls": [0.31, 0.92], "cer": [0.08, 0.69]},
        "higher_is_better": {"anls": True, "cer": False},
        "versions": {"anls": "anls@1", "cer": "cer@1"},
    }
    (eval_dir / "metrics.json").write_text(json.dumps(summary), encoding="utf-8")
    return summary


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, list[RunEntry], Path]:
    workdir = tmp_path / "work"
    sync_id = "sync0001"
    dataset_dir = workdir / "datasets" / sync_id
    (dataset_dir / "images").mkdir(parents=True)
    samples = []
    for sid, doc, question, reference in DOCS:
        image = dataset_dir / "images" / f"page_{doc}.png"
        if not image.exists():
            _png(image, shade=60 + 40 * len(samples))
        samples.append(
            {
                "id": sid,
                "images": [str(image)],
                "doc_class": doc,
                "question_type": question,
                "prompt_vars": {"question": f"Напиши {question}"},
                "reference": reference,
            }
        )
    (dataset_dir / "samples.jsonl").write_text(
        "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8"
    )
    runs: list[RunEntry] = []
    plans = [
        ("tesseract", "inf-a", "ev-a", [0.95, 0.4, 1.0, 0.9, 0.7, 0.85], 6),
        (
            "a-very-long-model-name-for-label-wrapping",
            "inf-b",
            "ev-b",
            [0.5, 0.1, -1, 0.6, 0.3, 0.2],
            3,
        ),
    ]
    for model, infer_id, eval_id, scores, limit in plans:
        summary = _run_files(workdir, infer_id, eval_id, sync_id, scores, limit)
        runs.append(
            {
                "run": f"{model}__docs-vqa__plain",
                "model": model,
                "dataset": "docs-vqa",
                "prompt": "plain",
                "task": "vqa",
                "infer_id": infer_id,
                "eval_id": eval_id,
                "error": None,
                "complete": True,
                "metric_versions": summary["versions"],
                "metrics": summary,
            }
        )
    out = workdir / "reports" / "default"
    write_reports(out, runs, workdir, ["leaderboard", "html"])
    return out / "report.html", runs, workdir


def test_report_has_tables_one_plotly_copy_and_worst_samples(report) -> None:
    path, _results, _workdir = report
    page = path.read_text(encoding="utf-8")
    # one plotly.js copy, however many figures
    assert page.count("Plotly.newPlot") >= 5
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    # the leaderboard table per task: quality with its CI, speed, memory groups
    assert "Task vqa" in page and "quality (95% CI)" in page
    assert "[0.31, 0.92]" in page and "anls ↑" in page and "cer ↓" in page
    assert "latency_p50_s" in page
    # per-aggregator breakdowns and the filters / limit of each run
    assert page.count("<h4>by_doc_type</h4>") == 2 and page.count("<h4>by_doc_question</h4>") == 2
    assert "passport" in page and "invoice" in page
    assert "doc_class: passport, invoice, snils" in page  # the filters the run used
    assert ">limit</td><td class='text'>3</td>" in page
    # worst samples: the failed sample first, with its error, and a thumbnail per row
    worst_b = page.split("a-very-long-model-name-for-label-wrapping__docs-vqa__plain</summary>")[1]
    worst_b = worst_b.split("<h4>Worst samples</h4>")[1].split("</details>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", worst_b)[1:]
    assert len(rows) == 5
    assert "HTTP 500: backend exploded" in rows[0]
    assert "Напиши Total amount" in rows[0]
    try:
        import PIL  # noqa: F401

        assert all("data:image/jpeg;base64," in r for r in rows)
    except ImportError:
        assert all("<a href='../../datasets/sync0001/images/" in r for r in rows)
    # the page names every figure it has data for
    for name in ("leaderboard-vqa", "by-doc-type-vqa", "field-scores-vqa", "latency"):
        assert f'id="fig-{name}"' in page or f"id='fig-{name}'" in page


def test_figures_load_from_a_finished_report(report) -> None:
    """The server's path: from reports/<experiment>/ alone, the same figures as JSON."""
    _path, _results, workdir = report
    columns, runs = load_experiment(workdir, "default")
    assert "anls_ci_low" in columns and [r.quality for r in runs] == [["anls", "cer"]] * 2
    specs = {s.name: s for s in build_figures(runs)}
    assert list(specs) == [
        "leaderboard-vqa",
        "by-doc-type-vqa",
        "field-scores-vqa",
        "quality-vs-latency",
        "latency",
    ]
    bars = specs["leaderboard-vqa"].figure.to_plotly_json()
    assert bars["data"][0]["error_y"]["arrayminus"][0] == pytest.approx(runs[0].row["anls"] - 0.31)
    assert bars["layout"]["xaxis"]["automargin"] is True
    heat = specs["field-scores-vqa"].figure.to_plotly_json()["data"][0]
    assert any(LONG_FIELD in label for label in heat["y"])
    assert all("<br>" in x for x in heat["x"])  # long run labels are wrapped, not cut


def test_a_broken_file_is_named(report) -> None:
    _path, _results, workdir = report
    answers = workdir / "runs" / "inf-a" / "answers.jsonl"
    answers.write_text('{"id": "0"}\nnot json\n{"id": "1"}\n', encoding="utf-8")
    with pytest.raises(ReportDataError, match=r"answers\.jsonl:2: not JSON"):
        load_experiment(workdir, "default")
    with pytest.raises(ReportDataError, match=r"runs\.json: missing"):
        load_experiment(workdir, "other")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium to render the page")
def test_page_renders_in_chromium(report, tmp_path: Path) -> None:
    path, _results, _workdir = report
    out = Path(os.environ.get("VLMHB_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "report.png"
    proc = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=8000",
            "--window-size=1300,4200",
            f"--screenshot={shot}",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000, proc.stderr[-2000:]


def test_leaderboard_orders_quality_speed_memory_and_keeps_runs_json(report) -> None:
    _path, _runs, workdir = report
    out = workdir / "reports" / "default"
    with (out / "leaderboard.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    assert header[:5] == ["run", "model", "dataset", "task", "prompt"]
    assert header[5:11] == [
        "anls",
        "anls_ci_low",
        "anls_ci_high",
        "cer",
        "cer_ci_low",
        "cer_ci_high",
    ]
    assert header.index("latency_p50_s") < header.index("peak_rss_mb") < header.index("status")
    assert [r["status"] for r in rows] == ["ok", "partial (1 failed)"]
    assert rows[1]["failed"] == "1" and rows[1]["samples"] == "6"
    index = json.loads((out / "runs.json").read_text(encoding="utf-8"))
    assert [r["eval_id"] for r in index] == ["ev-a", "ev-b"] and "metrics" not in index[0]
    assert (out / "leaderboard.md").read_text(encoding="utf-8").count("\n") == 4


def test_speed_metrics_stay_out_of_quality(report) -> None:
    _path, runs, workdir = report
    for run in runs:
        run["telemetry_metrics"] = ["cer"]  # as if cer were measured from telemetry
    columns, _rows = write_reports(workdir / "reports" / "speed", runs, workdir, ["leaderboard"])
    assert "cer" not in columns and "anls" in columns


def test_an_unknown_kind_fails_before_anything_is_written(report) -> None:
    _path, runs, workdir = report
    out = workdir / "reports" / "other"
    with pytest.raises(ReportKindError, match=r"report kind 'pdf': no installed package"):
        write_reports(out, runs, workdir, ["leaderboard", "pdf"])
    assert not (out / "leaderboard.csv").exists() and not (out / "runs.json").exists()


def test_compare_two_runs_on_their_shared_samples(report) -> None:
    _path, _runs, workdir = report
    for eval_id in ("ev-a", "ev-b"):
        (workdir / "evals" / eval_id / ".done").write_text("", encoding="utf-8")
    a, b = "tesseract/docs-vqa/plain", "a-very-long-model-name-for-label-wrapping/docs-vqa/plain"
    rows = {r["metric"]: r for r in compare(workdir, a, b, seed=0)}
    assert set(rows) == {"anls", "cer"}
    anls = rows["anls"]
    assert anls["run_a"] == a and anls["run_b"] == b
    assert anls["samples"] == 5  # the failed sample of B has no score: dropped from the pairs
    assert anls["delta"] < 0 and anls["ci_low"] <= anls["delta"] <= anls["ci_high"]
    assert 0.0 <= anls["agreement_exact"] <= 1.0
    with pytest.raises(CompareError, match=r"no run or experiment 'nope/x/y'.*known: "):
        compare(workdir, a, "nope/x/y")


def test_compare_shows_a_run_level_metric_as_the_leaderboard_does(report) -> None:
    """Issue 29: one definition per name. A corpus-level value (here ``anls`` declared a
    run-level statistic, as corpus chrF is) is shown as the leaderboard shows it, untested,
    never as the mean of its per-sample values under the same name."""
    _path, _runs, workdir = report
    values = {"ev-a": 0.61, "ev-b": 0.27}
    for eval_id, value in values.items():
        folder = workdir / "evals" / eval_id
        (folder / ".done").write_text("", encoding="utf-8")
        summary = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        summary["metrics"]["anls"] = value
        summary["aggregation"] = {"anls": "run", "cer": "ratio"}
        (folder / "metrics.json").write_text(json.dumps(summary), encoding="utf-8")
    a, b = "tesseract/docs-vqa/plain", "a-very-long-model-name-for-label-wrapping/docs-vqa/plain"
    rows = {r["metric"]: r for r in compare(workdir, a, b, seed=0)}
    anls = rows["anls"]
    assert (anls["a"], anls["b"]) == (0.61, 0.27) and anls["delta"] == pytest.approx(-0.34)
    assert anls["verdict"] == "not tested" and anls["p_value"] is None
    assert rows["cer"]["verdict"] != "not tested"  # a ratio is tested as before


def test_compare_refuses_an_unfinished_evaluation(report) -> None:
    _path, _runs, workdir = report
    with pytest.raises(CompareError, match=r"its evaluation .*ev-a is not complete"):
        compare(workdir, "tesseract/docs-vqa/plain", "default")


def test_compare_command_exits_2_naming_an_unknown_run(report) -> None:
    import typer
    from typer.testing import CliRunner
    from vlmhb_reports.cli import compare_command

    app = typer.Typer()
    app.command()(compare_command)
    _path, _runs, workdir = report
    result = CliRunner().invoke(app, ["nope/x/y", "default", "--workdir", str(workdir)])
    assert result.exit_code == 2
    assert "no run or experiment 'nope/x/y'" in result.output


def test_telemetry_is_measured_again_when_the_answers_change(report) -> None:
    from vlmhb_reports.leaderboard import telemetry

    _path, _runs, workdir = report
    answers = workdir / "runs" / "inf-a" / "answers.jsonl"
    first = telemetry(answers)
    first["latencies"].append(99.0)  # a caller's list is its own
    assert telemetry(answers)["latencies"] == sorted(0.2 + 0.05 * i for i in range(6))
    with answers.open("a", encoding="utf-8") as handle:
        handle.write(
            json.dumps({"id": "9", "answer": "x", "parse_status": "text", "latency_s": 7.0}) + "\n"
        )
    again = telemetry(answers)
    assert again["samples"] == 7 and again["latencies"][-1] == 7.0


def test_tokens_cost_truncation_and_hosted_columns(report) -> None:
    """A hosted run's answers carry usage, cost and finish_reason: the leaderboard sums them,
    divides the cost by the correct answers, counts cut and empty answers and marks the run
    as not reproducible; a local run without usage shows unknown, not zero."""
    _path, runs, workdir = report
    run_dir = workdir / "runs" / "inf-b"
    config = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    config["model"] = {"name": "hosted", "endpoint": {"base_url": "https://x/v1", "model": "m"}}
    (run_dir / "run.json").write_text(json.dumps(config), encoding="utf-8")
    answers = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    for i, answer in enumerate(answers):
        if answer["parse_status"] == "failed":
            continue
        answer.update(prompt_tokens=100, completion_tokens=10 + i, cost_usd=0.001)
        answer["reasoning_tokens"] = 4
        answer["finish_reason"] = "length" if i in (0, 1) else "stop"
        answer["answer"] = "" if i == 3 else answer["answer"]
    (run_dir / "answers.jsonl").write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers), encoding="utf-8"
    )
    columns, rows = write_reports(workdir / "reports" / "cost", runs, workdir, ["leaderboard"])
    assert columns.index("cost_usd") < columns.index("truncated_share") < columns.index("status")
    local, hosted = rows
    assert local["reproducible"] == "yes" and local["cost_usd"] is None
    assert local["prompt_tokens"] is None and local["truncated"] == 0
    assert hosted["reproducible"] == "no (hosted)"
    assert hosted["prompt_tokens"] == 500 and hosted["reasoning_tokens"] == 20
    assert hosted["completion_tokens"] == sum(10 + i for i in (0, 1, 3, 4, 5))
    assert hosted["cost_usd"] == pytest.approx(0.005)
    assert hosted["truncated"] == 2 and hosted["truncated_share"] == round(2 / 6, 4)
    assert hosted["empty"] == 1
    anls = runs[1]["metrics"]["metrics"]["anls"]
    assert hosted["cost_per_correct_usd"] == pytest.approx(0.005 / (anls * 5), rel=1e-3)
