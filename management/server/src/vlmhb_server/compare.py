"""``GET /api/compare``: two experiments (every run they share) or two runs, metric by metric.

Deltas come from the leaderboards; where per-sample scores exist on both sides and the
``vlmhb-statistics`` package is installed (the ``stats`` extra), each metric also gets a paired
bootstrap CI, a permutation p-value and a verdict, paired on sample ids; except a run-level
metric (``aggregation: run``: corpus chrF, latency percentiles, throughput), whose per-sample
mean is another number than the leaderboard's: its verdict is ``not tested``, as in ``vlmhb
compare``.
"""

from __future__ import annotations

from typing import Any

from vlmhb_reports import higher_is_better


def _stats() -> Any:
    try:
        import vlmhb_statistics
    except ImportError:
        return None
    return vlmhb_statistics


def compare_runs(
    a: dict[str, Any],
    b: dict[str, Any],
    samples_a: dict[str, dict[str, Any]],
    samples_b: dict[str, dict[str, Any]],
    *,
    changed_limit: int = 50,
) -> dict[str, Any]:
    """``a``/``b``: leaderboard rows; ``samples_*``: sample id -> {answer, scores}."""
    stats = _stats()
    shared = sorted(set(samples_a) & set(samples_b))
    metrics = []
    for name in dict.fromkeys([*a["metrics"], *b["metrics"]]):
        va, vb = a["metrics"].get(name), b["metrics"].get(name)
        row: dict[str, Any] = {
            "metric": name,
            "a": va,
            "b": vb,
            "delta": (vb - va)
            if isinstance(va, int | float) and isinstance(vb, int | float)
            else None,
            "higher_is_better": higher_is_better(name),
        }
        pa = {s: samples_a[s]["scores"].get(name) for s in shared}
        pb = {s: samples_b[s]["scores"].get(name) for s in shared}
        paired = [
            s for s in shared if isinstance(pa[s], int | float) and isinstance(pb[s], int | float)
        ]
        row["n_paired"] = len(paired)
        kinds = {(a.get("aggregation") or {}).get(name), (b.get("aggregation") or {}).get(name)}
        if "run" in kinds:
            row.update(verdict="not tested", test="none: a run-level value")
        elif stats is not None and len(paired) >= 2:
            result = stats.compare_means(
                [pa[s] for s in paired],
                [pb[s] for s in paired],
                higher_is_better=row["higher_is_better"],
                metric=name,
                n_resamples=1000,
                n_permutations=2000,
            ).to_dict()
            row.update({k: result[k] for k in ("ci_low", "ci_high", "p_value", "verdict", "test")})
        metrics.append(row)
    changed = []
    for sid in shared:
        sa, sb = samples_a[sid], samples_b[sid]
        if sa.get("answer") != sb.get("answer") or sa.get("scores") != sb.get("scores"):
            changed.append(
                {
                    "sample_id": sid,
                    "a": {"answer": sa.get("answer"), "scores": sa.get("scores")},
                    "b": {"answer": sb.get("answer"), "scores": sb.get("scores")},
                }
            )
    return {
        "a": {k: a[k] for k in ("experiment_id", "run", "model", "dataset", "prompt", "task")},
        "b": {k: b[k] for k in ("experiment_id", "run", "model", "dataset", "prompt", "task")},
        "samples_shared": len(shared),
        "samples_changed": len(changed),
        "metrics": metrics,
        "changed": changed[:changed_limit],
        "significance": stats is not None,
    }
