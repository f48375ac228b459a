"""``GET /api/compare``'s answer: ``vlmhb compare``'s rule applied to the server's runs.

The statistics are :func:`vlmhb_reports.compare_runs`, the function ``vlmhb compare`` calls,
so the dashboard and the CLI give the same verdicts on the same runs: the corpus ratio for
CER/WER, McNemar for exact match, a paired bootstrap for means, ``not tested`` for a
run-level metric, Holm across the pairs of two experiments and across a metric's fields.
Each side's scores are read as the CLI reads them (:func:`vlmhb_reports.load_scores`) while
its work dir still holds the complete evaluation; otherwise from the database's copy of the
same per-sample scores (there are no per-sample ratios or per-field scores in it, so a corpus
metric is then compared as a mean and no field rows come back).

This module shapes the result as the dashboard reads it: per metric the leaderboard's A, B
and delta, with the test's CI, p-value, verdict and test name where one ran; ``fields`` and
``agreement`` extend it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlmhb_reports import CompareError, ReportDataError, RunScores, compare_runs, load_scores

SIDE_KEYS = ("experiment_id", "run", "model", "dataset", "prompt", "task")
#: the test's keys a metric row carries (the dashboard's contract)
TEST_KEYS = ("ci_low", "ci_high", "p_value", "verdict", "test")
#: a stage id as the planner makes them: nothing that could leave the work dir
_STAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

Samples = dict[str, dict[str, Any]]
"""sample id -> {"answer", "scores"} of one run, from the database."""


def label(row: dict[str, Any]) -> str:
    """A side's name in the comparison: unique across two experiments with equal run names."""
    return f"{row['experiment_id']}:{row['run']}"


def scores_from_database(row: dict[str, Any], samples: Samples) -> RunScores:
    """The run's per-sample scores as the database holds them (no ratios, no fields)."""
    values: dict[str, dict[str, float]] = {}
    for metric in row["metrics"]:
        per_sample = {
            sid: float(v)
            for sid, s in samples.items()
            if isinstance(v := (s.get("scores") or {}).get(metric), int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
        }
        if per_sample:
            values[metric] = per_sample
    return RunScores(
        label=label(row),
        key=(row["model"], row["dataset"], row["prompt"]),
        values=values,
        answers={sid: s.get("answer") for sid, s in samples.items()},
        higher_is_better=dict(row.get("higher_is_better") or {}),
        run_values=dict(row["metrics"]),
        aggregation=dict(row.get("aggregation") or {}),
    )


def scores_from_workdir(workdir: Path, row: dict[str, Any]) -> RunScores | None:
    """The run's scores read as ``vlmhb compare`` reads them; None when the work dir no
    longer holds its complete evaluation."""
    eval_id = row.get("eval_id")
    if not isinstance(eval_id, str) or not _STAGE_ID.match(eval_id):
        return None
    try:
        loaded = load_scores(workdir, row)
    except (CompareError, ReportDataError, OSError, ValueError, KeyError):
        return None
    return dataclasses.replace(loaded, label=label(row))


def compare_pairs(
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    scores: Sequence[tuple[RunScores, RunScores]],
    samples: Sequence[tuple[Samples, Samples]],
    *,
    changed_limit: int = 50,
) -> list[dict[str, Any]]:
    """One answer per pair of leaderboard rows; all pairs are tested together (Holm)."""
    rows = compare_runs(scores)
    return [
        _pair_json(a, b, sa, sb, samples_a, samples_b, rows, changed_limit)
        for (a, b), (sa, sb), (samples_a, samples_b) in zip(pairs, scores, samples, strict=True)
    ]


def compare_pair(
    a: dict[str, Any], b: dict[str, Any], samples_a: Samples, samples_b: Samples
) -> dict[str, Any]:
    """Two runs whose scores are the database's (``a``/``b``: leaderboard rows)."""
    scores = (scores_from_database(a, samples_a), scores_from_database(b, samples_b))
    return compare_pairs([(a, b)], [scores], [(samples_a, samples_b)])[0]


def _pair_json(
    a: dict[str, Any],
    b: dict[str, Any],
    sa: RunScores,
    sb: RunScores,
    samples_a: Samples,
    samples_b: Samples,
    rows: list[dict[str, Any]],
    changed_limit: int,
) -> dict[str, Any]:
    mine = [r for r in rows if r["run_a"] == sa.label and r["run_b"] == sb.label]
    tested = {r["metric"]: r for r in mine if r.get("field") is None}
    metrics = []
    for name in dict.fromkeys([*a["metrics"], *b["metrics"]]):
        va, vb = a["metrics"].get(name), b["metrics"].get(name)
        numbers = all(isinstance(v, int | float) for v in (va, vb))
        row: dict[str, Any] = {
            "metric": name,
            "a": va,
            "b": vb,
            "delta": vb - va if numbers else None,  # type: ignore[operator]
            "higher_is_better": sa.higher_is_better.get(name, True),
            "n_paired": len(set(sa.values.get(name, {})) & set(sb.values.get(name, {}))),
        }
        result = tested.get(name)
        if result is not None:
            row.update({k: result[k] for k in TEST_KEYS if result.get(k) is not None})
        metrics.append(row)
    shared = sorted(set(samples_a) & set(samples_b))
    changed = [
        {
            "sample_id": sid,
            "a": {"answer": samples_a[sid].get("answer"), "scores": samples_a[sid].get("scores")},
            "b": {"answer": samples_b[sid].get("answer"), "scores": samples_b[sid].get("scores")},
        }
        for sid in shared
        if samples_a[sid].get("answer") != samples_b[sid].get("answer")
        or samples_a[sid].get("scores") != samples_b[sid].get("scores")
    ]
    first = mine[0] if mine else {}
    return {
        "a": {k: a[k] for k in SIDE_KEYS},
        "b": {k: b[k] for k in SIDE_KEYS},
        "samples_shared": len(shared),
        "samples_changed": len(changed),
        "metrics": metrics,
        "fields": [
            {k: r.get(k) for k in ("metric", "field", "samples", "delta", *TEST_KEYS)}
            for r in mine
            if r.get("field") is not None
        ],
        "agreement": {
            "exact": first.get("agreement_exact"),
            "normalized": first.get("agreement_normalized"),
        },
        "changed": changed[:changed_limit],
        "significance": True,
    }
