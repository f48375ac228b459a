"""Page parsing end to end: the shipped doc-parsing dataset (checksum-pinned), real Tesseract
answering Markdown, and OmniDocBench's metrics in the leaderboard with their directions."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from conftest import write_overlay


def test_doc_parsing_runs_with_text_edit_distance_teds_and_reading_order(
    vlmhb, tmp_path: Path
) -> None:
    overlay = write_overlay(
        tmp_path / "overlay",
        {
            "experiments": {
                "doc-parsing-check": {
                    "matrix": {
                        "models": ["tesseract"],
                        "datasets": ["synthetic-docs-doc-parsing"],
                        "prompts": ["doc-parsing-markdown"],
                    },
                    "reports": ["leaderboard"],
                }
            }
        },
    )
    workdir = tmp_path / "work"
    vlmhb(
        "run", "doc-parsing-check", "--workdir", str(workdir), "--overlay", str(overlay), check=True
    )
    with (workdir / "reports" / "doc-parsing-check" / "leaderboard.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["task"] == "doc-parsing" and row["samples"] == "2" and row["status"] == "ok"
    # Tesseract reads the synthetic pages almost exactly: the Markdown rules are what is scored
    assert float(row["text_edit_distance"]) < 0.05
    assert float(row["reading_order_edit_distance"]) == 0.0  # two columns read left first
    assert float(row["teds"]) > 0.9 and float(row["teds_s"]) == 1.0
    [metrics_file] = list((workdir / "evals").glob("*/metrics.json"))
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    assert metrics["higher_is_better"] == {
        "text_edit_distance": False,
        "teds": True,
        "teds_s": True,
        "reading_order_edit_distance": False,
        "latency_p50": False,
        "throughput": True,
    }
    assert metrics["versions"]["teds"] == "teds@1"
    with metrics_file.with_name("per_sample.csv").open() as handle:
        pages = {r["id"]: r for r in csv.DictReader(handle)}
    # the two-column page has no table: no TEDS for it, rather than a 0 or a 1
    assert pages["page-0001_two-column"]["teds"] == ""
    assert math.isfinite(float(pages["page-0000_invoice-table"]["teds"]))
