"""The dashboard's compare follows ``vlmhb compare``'s rule (issue 29): a run-level metric
(corpus chrF, latency percentiles, throughput) is shown with the leaderboard's values and not
tested on its per-sample values, which average to another number."""

from __future__ import annotations

from vlmhb_server.compare import compare_runs


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
    result = compare_runs(_row("a", 0.31, 0.5), _row("b", 0.42, 0.9), samples_a, samples_b)
    by_metric = {m["metric"]: m for m in result["metrics"]}
    chrf = by_metric["chrf"]
    assert (chrf["a"], chrf["b"]) == (0.31, 0.42) and chrf["verdict"] == "not tested"
    assert "p_value" not in chrf and "ci_low" not in chrf
    assert by_metric["anls"]["verdict"] == "better"
