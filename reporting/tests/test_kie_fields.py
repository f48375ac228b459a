"""Key-information extraction runs: per-field tables and figures, the task's main metric, and
per-field deltas in ``compare`` (issue 28), on a work dir written the way the stages write it.

Two models read receipts (company, date, address, total): ``careful`` leaves the total out of
half the receipts, ``guesser`` answers every field but gets the total wrong as often. Both give
valid JSON every time, so structural fidelity is 1.0 for both: listed first, it must not decide.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from vlmhb_reports import RunEntry, build_figures, compare, load_experiment, write_reports

FIELDS = ["address", "company", "date", "total"]
SAMPLES = [str(i) for i in range(8)]
METRICS = ["structural_fidelity", "field_f1", "field_recall", "field_omission_rate"]
HIGHER = {"structural_fidelity": True, "field_f1": True, "field_recall": True}
HIGHER["field_omission_rate"] = False


def _outcome(model: str, sample: int, field: str) -> str:
    """ok / missing / wrong for one (model, sample, field)."""
    if field == "total" and sample % 2:
        return "missing" if model == "careful" else "wrong"
    if field == "address" and model == "careful" and sample == 0:
        return "wrong"
    return "ok"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _f1(tp: int, fp: int, fn: int) -> float:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _run_files(workdir: Path, model: str, latency: float) -> dict:
    run_dir, eval_dir = workdir / "runs" / f"inf-{model}", workdir / "evals" / f"ev-{model}"
    run_dir.mkdir(parents=True)
    eval_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"sync_id": "sync-r"}), encoding="utf-8")
    answers, per_sample, per_field = [], [], []
    totals = {"tp": 0, "fp": 0, "fn": 0}
    counts = {f: {"tp": 0, "fp": 0, "fn": 0, "missing": 0} for f in FIELDS}
    for i, sid in enumerate(SAMPLES):
        outcomes = {f: _outcome(model, i, f) for f in FIELDS}
        tp = sum(o == "ok" for o in outcomes.values())
        fp = sum(o == "wrong" for o in outcomes.values())
        fn = sum(o != "ok" for o in outcomes.values())
        for f, o in outcomes.items():
            counts[f]["tp"] += o == "ok"
            counts[f]["fp"] += o == "wrong"
            counts[f]["fn"] += o != "ok"
            counts[f]["missing"] += o == "missing"
            per_field.append([sid, f, float(o == "ok"), float(o == "missing")])
        totals = {"tp": totals["tp"] + tp, "fp": totals["fp"] + fp, "fn": totals["fn"] + fn}
        missing = sum(o == "missing" for o in outcomes.values())
        answer = {f: ("" if o == "missing" else "x") for f, o in outcomes.items()}
        answers.append(
            {
                "id": sid,
                "answer": json.dumps(answer),
                "parse_status": "json",
                "latency_s": latency,
                "started_at": 10.0 + i,
                "finished_at": 10.0 + i + latency,
            }
        )
        scores = [1.0, _f1(tp, fp, fn), tp / 4, missing / 4]
        per_sample.append([sid, "receipt", "", "json", json.dumps(answer), *scores])
    (run_dir / "answers.jsonl").write_text(
        "".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8"
    )
    header = ["id", "doc_class", "question_type", "parse_status", "answer", *METRICS]
    _write_csv(eval_dir / "per_sample.csv", header, per_sample)
    _write_csv(eval_dir / "per_field.csv", ["id", "field", *METRICS[2:]], per_field)
    n = len(SAMPLES)
    fields = {
        f: {
            "field_f1": {"value": _f1(c["tp"], c["fp"], c["fn"])},
            "field_recall": {"value": c["tp"] / n, "ci": [c["tp"] / n - 0.1, 1.0], "n": n},
            "field_omission_rate": {"value": c["missing"] / n, "n": n},
        }
        for f, c in counts.items()
    }
    summary = {
        "metrics": {
            "structural_fidelity": 1.0,
            "field_f1": _f1(**totals),
            "field_recall": totals["tp"] / (4 * n),
            "field_omission_rate": sum(c["missing"] for c in counts.values()) / (4 * n),
        },
        "ci": {},
        "higher_is_better": HIGHER,
        "versions": {m: f"{m}@1" for m in METRICS},
        "per_field": fields,
    }
    (eval_dir / "metrics.json").write_text(json.dumps(summary), encoding="utf-8")
    (eval_dir / ".done").write_text("", encoding="utf-8")
    return summary


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    workdir = tmp_path / "work"
    dataset = workdir / "datasets" / "sync-r"
    dataset.mkdir(parents=True)
    samples = [
        {"id": sid, "images": [], "doc_class": "receipt", "fields": dict.fromkeys(FIELDS, "x")}
        for sid in SAMPLES
    ]
    (dataset / "samples.jsonl").write_text(
        "".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8"
    )
    runs: list[RunEntry] = []
    for model, latency in (("careful", 0.5), ("guesser", 0.2)):
        summary = _run_files(workdir, model, latency)
        runs.append(
            {
                "run": f"{model}__receipts__kie",
                "model": model,
                "dataset": "receipts",
                "prompt": "kie",
                "task": "kie",
                "infer_id": f"inf-{model}",
                "eval_id": f"ev-{model}",
                "error": None,
                "complete": True,
                "metric_versions": summary["versions"],
                "main_metric": "field_f1",
                "metrics": summary,
            }
        )
    write_reports(workdir / "reports" / "receipts", runs, workdir, ["leaderboard", "html"])
    return workdir


def test_leaderboard_has_a_per_field_table_per_run(workdir: Path) -> None:
    report = workdir / "reports" / "receipts"
    text = (report / "leaderboard.md").read_text(encoding="utf-8")
    assert "### Per field — careful__receipts__kie (main metric: field_f1)" in text
    careful = text.split("### Per field — careful__receipts__kie")[1].split("###")[0]
    total = next(line for line in careful.splitlines() if line.startswith("| total |"))
    # careful: total read on half the receipts, left out on the other half, never wrong
    assert total == "| total | 0.6667 | 0.5 [0.4, 1] | 0.5 |"
    with (report / "leaderboard_fields.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    left_out = {
        (r["model"], r["field"]): float(r["value"])
        for r in rows
        if r["metric"] == "field_omission_rate"
    }
    assert left_out[("careful", "total")] == 0.5 and left_out[("guesser", "total")] == 0.0


def test_per_field_heatmap_has_fields_as_rows_and_the_main_metric(workdir: Path) -> None:
    _columns, runs = load_experiment(workdir, "receipts")
    assert [r.main for r in runs] == ["field_f1", "field_f1"]
    specs = {s.name: s for s in build_figures(runs)}
    heat = specs["field-scores-kie"].figure.to_plotly_json()
    assert list(heat["data"][0]["y"]) == FIELDS  # fields down, not metrics
    assert "field_f1" in heat["layout"]["title"]["text"]
    z = {f: row for f, row in zip(FIELDS, heat["data"][0]["z"], strict=True)}
    assert z["total"] == [pytest.approx(2 / 3), pytest.approx(0.5)]  # careful, guesser
    left = specs["fields-left-out-kie"].figure.to_plotly_json()["data"][0]
    assert dict(zip(left["y"], left["z"], strict=True))["total"] == [0.5, 0.0]


def test_the_main_metric_decides_not_the_first_listed(workdir: Path) -> None:
    _columns, runs = load_experiment(workdir, "receipts")
    specs = {s.name: s for s in build_figures(runs)}
    scatter = specs["quality-vs-latency"].figure.to_plotly_json()["data"][0]
    assert "field_f1" in scatter["name"] and "structural_fidelity" not in scatter["name"]
    assert 1.0 not in scatter["y"]
    page = (workdir / "reports" / "receipts" / "report.html").read_text(encoding="utf-8")
    assert page.count("<h4>Per field</h4>") == 2
    assert "lowest by field_f1" in page and "lowest by structural_fidelity" not in page


def test_compare_gives_per_field_deltas_with_confidence_intervals(workdir: Path) -> None:
    rows = compare(workdir, "careful/receipts/kie", "guesser/receipts/kie", seed=0)
    by_field = {(r["metric"], r["field"]): r for r in rows if r["field"]}
    total = by_field[("field_omission_rate", "total")]
    assert total["samples"] == 8
    assert total["delta"] == pytest.approx(-0.5)  # guesser leaves the total out less often
    assert total["ci_low"] <= total["delta"] <= total["ci_high"]
    assert by_field[("field_recall", "company")]["delta"] == 0.0
    assert {r["metric"] for r in rows if not r["field"]} >= {"field_f1", "structural_fidelity"}
