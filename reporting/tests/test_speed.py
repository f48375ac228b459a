"""Speed figures that do not lie (issue 29): cached answers left out, the machine's load
recorded beside the figures, and unreliable figures flagged by a stated rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vlmhb_reports import leaderboard_rows, speed_note
from vlmhb_reports.speed import median_interval


def _entry() -> dict:
    return {
        "run": "ocr__docs__plain",
        "model": "ocr",
        "dataset": "docs",
        "prompt": "plain",
        "task": "vqa",
        "infer_id": "inf",
        "eval_id": None,
        "error": None,
        "complete": True,
        "metric_versions": {},
        "metrics": {},
    }


def _answers(workdir: Path, records: list[dict], telemetry: dict) -> None:
    folder = workdir / "runs" / "inf"
    folder.mkdir(parents=True)
    lines = [
        json.dumps({"id": str(i), "answer": "x", "parse_status": "text", **r})
        for i, r in enumerate(records)
    ]
    (folder / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "telemetry.json").write_text(json.dumps(telemetry), encoding="utf-8")


def test_cached_answers_are_left_out_of_speed_and_the_machine_is_recorded(tmp_path: Path):
    """9 pages read (1..9 s), then 20 questions about them answered from the page cache."""
    read = [
        {"latency_s": float(s), "started_at": 100.0 + 10 * s, "finished_at": 100.0 + 11 * s}
        for s in range(1, 10)
    ]
    hits = [
        {"latency_s": 0.001, "started_at": 199.0, "finished_at": 199.001, "cached": True}
        for _ in range(20)
    ]
    _answers(tmp_path, read + hits, {"peak_load_1m": 5.0, "cpus": 2.0, "parallel_models": 1.0})
    columns, [row] = leaderboard_rows([_entry()], tmp_path)
    assert row["samples"] == 29 and row["cached_answers"] == 20
    assert row["latency_p50_s"] == 5.0  # the median of the pages read, not of cache hits
    assert row["samples_per_s"] == pytest.approx(9 / (199.0 - 110.0), abs=1e-3)
    assert row["peak_load_per_cpu"] == 2.5 and row["parallel_models"] == 1
    assert row["speed_note"].startswith("unreliable: busy machine (peak load 2.5 per CPU)")
    assert row["speed_note"].endswith("20 cached answers left out")
    assert columns.index("latency_p50_s") < columns.index("speed_note") < columns.index("status")

    from rich.console import Console
    from vlmhb_reports.terminal import print_leaderboard

    console = Console(record=True, width=200)
    print_leaderboard(console, columns, [row])
    assert f"speed: ocr / plain: {row['speed_note']}" in console.export_text()


def test_speed_note_rule() -> None:
    steady = [1.0 + 0.01 * i for i in range(20)]
    assert speed_note(steady, 0, 0.4, 1) == "ok"
    scattered = [0.1 * 1.5**i for i in range(20)]
    assert speed_note(scattered, 0, 0.4, 1).startswith("unreliable: wide spread")
    assert speed_note([1.0, 1.1, 1.2], 0, 0.4, 1) == (
        "unreliable: few samples (3 timed, fewer than 6)"
    )
    assert speed_note(steady, 0, 0.4, 2) == "unreliable: parallel models (2 at once)"
    assert speed_note([], 0, None, None) is None


def test_median_interval_is_the_binomial_order_statistics() -> None:
    values = [float(v) for v in range(1, 11)]
    # n=10: P(X <= 1) = 11/1024 <= 2.5% < P(X <= 2) = 56/1024, so x(2) and x(9)
    assert median_interval(values) == (2.0, 9.0)
    assert median_interval(values[:6]) == (1.0, 6.0)
    with pytest.raises(ValueError, match="too few"):
        median_interval(values[:5])
    big = [float(v) for v in range(1000)]
    low, high = median_interval(big)  # normal approximation: about 500 -/+ 31
    assert 465 <= low <= 470 and 529 <= high <= 534
