"""The dashboard's compare follows ``vlmhb compare``'s rule (issue 29; since issue 30 both call
``vlmhb_reports.compare_runs``): a run-level metric (corpus chrF, latency percentiles,
throughput) is shown with the leaderboard's values and not tested on its per-sample values,
which average to another number."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from vlmhb_reports import compare_runs, load_scores
from vlmhb_server.comparison import compare_pair, compare_pairs, scores_from_workdir
from vlmhb_server.run_rows import directions


def _row(run: str, chrf: float, anls: float) -> dict:
    return {
        "experiment_id": 1,
        "run": run,
        "model": run,
        "dataset": "docs",
        "prompt": "plain",
        "task": "ocr",
        "metrics": {"chrf": chrf, "anls": anls},
        "aggregation": {"chrf": "run", "anls": "mean"},
    }


def test_a_run_level_metric_is_shown_untested() -> None:
    samples_a = {str(i): {"answer": "a", "scores": {"chrf": 0.2, "anls": 0.5}} for i in range(8)}
    samples_b = {str(i): {"answer": "b", "scores": {"chrf": 0.9, "anls": 0.9}} for i in range(8)}
    result = compare_pair(_row("a", 0.31, 0.5), _row("b", 0.42, 0.9), samples_a, samples_b)
    by_metric = {m["metric"]: m for m in result["metrics"]}
    chrf = by_metric["chrf"]
    assert (chrf["a"], chrf["b"]) == (0.31, 0.42) and chrf["verdict"] == "not tested"
    assert "p_value" not in chrf and "ci_low" not in chrf
    assert by_metric["anls"]["verdict"] == "better"


def _evaluation(workdir: Path, eval_id: str, cer: list[tuple[int, int]], anls: list[float]) -> None:
    """A complete evaluation as the eval stage writes it: per-sample CER and ANLS, CER's
    numerators and denominators, the declared directions, the done marker."""
    folder = workdir / "evals" / eval_id
    folder.mkdir(parents=True)
    ids = [str(i) for i in range(len(cer))]
    with (folder / "per_sample.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "doc_class", "question_type", "parse_status", "answer", "cer", "anls"]
        )
        for i, (num, den), score in zip(ids, cer, anls, strict=True):
            writer.writerow([i, "", "", "ok", f"answer {num}", num / den, score])
    (folder / "ratios.json").write_text(
        json.dumps(
            {
                "ids": ids,
                "ratios": {
                    "cer": {"numerators": [n for n, _ in cer], "denominators": [d for _, d in cer]}
                },
            }
        )
    )
    total = sum(n for n, _ in cer) / sum(d for _, d in cer)
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "metrics": {"cer": total, "anls": sum(anls) / len(anls)},
                "higher_is_better": {"cer": False, "anls": True},
                "aggregation": {"cer": "ratio", "anls": "mean"},
            }
        )
    )
    (folder / ".done").write_text("")


def test_the_dashboard_and_the_cli_give_the_same_verdicts(tmp_path: Path) -> None:
    """Issue 30: one ``compare_runs``. CER is compared as the corpus ratio with its declared
    direction (lower is better), exactly as ``vlmhb compare`` does on the same files."""
    short = [(1, 4)] * 12  # B gets the short references wrong more often...
    long_a, long_b = [(40, 200)] * 12, [(2, 200)] * 12  # ...and the long ones far better
    cer_a = [(0, 4)] * 12 + long_a
    cer_b = short + long_b
    anls_a = [0.5] * 24
    anls_b = [0.6] * 24
    _evaluation(tmp_path, "eval-a", cer_a, anls_a)
    _evaluation(tmp_path, "eval-b", cer_b, anls_b)
    rows = []
    for side, eval_id in (("a", "eval-a"), ("b", "eval-b")):
        metrics = json.loads((tmp_path / "evals" / eval_id / "metrics.json").read_text())
        rows.append(
            {
                **_row(side, 0.0, 0.0),
                "metrics": metrics["metrics"],
                "aggregation": metrics["aggregation"],
                "higher_is_better": metrics["higher_is_better"],
                "eval_id": eval_id,
                "prompt": side,
            }
        )
    samples = [
        {
            str(i): {"answer": "x", "scores": {"cer": n / d, "anls": s}}
            for i, ((n, d), s) in enumerate(zip(cer, anls, strict=True))
        }
        for cer, anls in ((cer_a, anls_a), (cer_b, anls_b))
    ]
    scores = (scores_from_workdir(tmp_path, rows[0]), scores_from_workdir(tmp_path, rows[1]))
    assert scores[0] is not None and scores[1] is not None
    served = compare_pairs([(rows[0], rows[1])], [scores], [(samples[0], samples[1])])[0]
    cli = compare_runs([(load_scores(tmp_path, rows[0]), load_scores(tmp_path, rows[1]))])
    by_metric = {m["metric"]: m for m in served["metrics"]}
    for expected in cli:
        shown = by_metric[expected["metric"]]
        assert {k: shown[k] for k in ("ci_low", "ci_high", "p_value", "verdict", "test")} == {
            k: expected[k] for k in ("ci_low", "ci_high", "p_value", "verdict", "test")
        }
    cer_row = by_metric["cer"]
    assert cer_row["higher_is_better"] is False and cer_row["verdict"] == "better"
    assert cer_row["delta"] == pytest.approx(
        sum(n for n, _ in cer_b) / sum(d for _, d in cer_b)
        - sum(n for n, _ in cer_a) / sum(d for _, d in cer_a)
    )


def test_without_the_work_dir_the_database_scores_are_compared() -> None:
    """An evaluation no longer on disk: the rows come from the database's copy of the scores."""
    assert (
        scores_from_workdir(Path("/nonexistent"), {**_row("a", 0.1, 0.2), "eval_id": "x"}) is None
    )
    assert scores_from_workdir(Path("/"), {**_row("a", 0.1, 0.2), "eval_id": "../etc"}) is None


def test_leaderboard_rows_carry_each_metrics_declared_direction() -> None:
    """The leaderboard payload says which way is better; nothing guesses from the name."""
    assert directions({"cer": 0.1, "anls": 0.5}, {"cer": False}) == {"cer": False, "anls": True}
    assert directions({"field_f1": 0.5}, {"field_omission_rate": False}) == {
        "field_f1": True,
        "field_omission_rate": False,
    }


def test_runs_that_share_no_sample_get_deltas_without_tests() -> None:
    """Two runs over different samples: the leaderboard's deltas, no test, no error."""
    samples_a = {f"a{i}": {"answer": "a", "scores": {"chrf": 0.2, "anls": 0.5}} for i in range(4)}
    samples_b = {f"b{i}": {"answer": "b", "scores": {"chrf": 0.9, "anls": 0.9}} for i in range(4)}
    result = compare_pair(_row("a", 0.31, 0.5), _row("b", 0.42, 0.9), samples_a, samples_b)
    assert result["samples_shared"] == 0
    anls = {m["metric"]: m for m in result["metrics"]}["anls"]
    assert anls["delta"] == pytest.approx(0.4) and "verdict" not in anls
