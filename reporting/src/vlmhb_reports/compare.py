"""``vlmhb compare A B``: paired, honest comparison of two runs (or experiments) on the same
samples, with a verdict per metric that a CI pipeline can gate on.

A run is named ``model/dataset/prompt`` (B may be a glob: many prompts against one, then the
p-values are Holm-adjusted); an experiment by its name (every run the two share, matched on
model, dataset and prompt). Scores come from the work dir: each evaluation's
``per_sample.csv`` (and ``ratios.json`` for corpus-level metrics such as CER), and for runs
that score fields (KIE) its ``per_field.csv``: one more row per (metric, field), paired on the
samples that have the field, Holm-adjusted within each metric's fields.

One definition per name: A and B are always the values the leaderboard shows under that name.
A metric whose value is a run-level statistic (``aggregation: run`` in metrics.json: corpus
chrF and BLEU, latency percentiles, throughput) is not the mean of its per-sample values, so
a paired test of those would be about another number: its row gives A, B and the delta with
the verdict ``not tested``.

One rule: :func:`compare_runs` takes the two sides as :class:`RunScores` wherever they were
read from; :func:`compare` reads them from a work dir (:func:`load_scores`), the management
server from its database, so ``vlmhb compare`` and ``/api/compare`` give the same verdicts.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmhb_workdir import METRICS_FILE, PER_SAMPLE_FILE, RATIOS_FILE, Workdir, read_object

from .columns import SAMPLE_KEYS
from .records import RunNotFound, run_label, runs_index, select_runs

EXACT_METRICS = {"exact_match", "accuracy"}
"""0/1 per sample: compared with McNemar's test."""
NOT_TESTED = "not tested"
"""The verdict of a run-level metric (see the module docstring)."""


class CompareError(ValueError):
    """A named run or experiment is not in the work dir (the message lists what is)."""


@dataclass
class RunScores:
    """One run's scores as a comparison needs them, wherever they were read from (the work
    dir's files by :func:`load_scores`, or a database holding the same per-sample scores)."""

    label: str
    key: tuple[str, str, str]  # model, dataset, prompt
    values: dict[str, dict[str, float]]  # metric -> sample id -> value
    answers: dict[str, str | None]
    higher_is_better: dict[str, bool]  # as the metrics' registry entries declared them
    run_values: dict[str, float]  # metric -> the value the leaderboard shows
    aggregation: dict[str, str] = field(default_factory=dict)  # mean / ratio / run
    ratios: dict[str, dict[str, tuple[float, float]]] = field(
        default_factory=dict
    )  # metric -> id -> (num, den); without them a corpus metric is compared as a mean
    fields: dict[str, dict[str, dict[str, float]]] = field(
        default_factory=dict
    )  # metric -> field -> sample id -> value


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def load_scores(workdir: Path, run: dict[str, Any]) -> RunScores:
    folder = Workdir(workdir).stage_dir("eval", str(run["eval_id"]))
    if not Workdir.is_done(folder):
        raise CompareError(f"run {run_label(run)}: its evaluation {folder} is not complete")
    metrics = read_object(folder / METRICS_FILE)
    with (folder / PER_SAMPLE_FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = [c for c in (rows[0] if rows else {}) if c not in SAMPLE_KEYS]
    values = {c: {r["id"]: v for r in rows if (v := _float(r[c])) is not None} for c in columns}
    ratios: dict[str, dict[str, tuple[float, float]]] = {}
    ratio_path = folder / RATIOS_FILE
    if ratio_path.exists():
        data = json.loads(ratio_path.read_text(encoding="utf-8"))
        for column, ratio in data.get("ratios", {}).items():
            pairs = zip(ratio["numerators"], ratio["denominators"], strict=True)
            ratios[column] = dict(zip(data["ids"], pairs, strict=True))
    return RunScores(
        label=run_label(run),
        key=(run["model"], run["dataset"], run["prompt"]),
        values=values,
        ratios=ratios,
        answers={r["id"]: r["answer"] for r in rows},
        higher_is_better=metrics.get("higher_is_better", {}),
        fields=_field_scores(folder / "per_field.csv"),
        run_values=metrics.get("metrics", {}),
        aggregation=metrics.get("aggregation", {}),
    )


def _field_scores(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """per_field.csv (id, field, one column per metric) -> metric -> field -> id -> value."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        for column, text in row.items():
            if column in ("id", "field") or (value := _float(text)) is None:
                continue
            scores.setdefault(column, {}).setdefault(row["field"], {})[row["id"]] = value
    return scores


def _field_comparisons(
    sa: RunScores, sb: RunScores, seed: int, stats: Any
) -> list[tuple[Any, str, int]]:
    """(comparison, field, paired samples) per metric and field both runs scored."""
    found = []
    for metric in [m for m in sa.fields if m in sb.fields]:
        higher = sa.higher_is_better.get(metric, True)
        family = []
        for name in sorted(set(sa.fields[metric]) & set(sb.fields[metric])):
            if not set(sa.fields[metric][name]) & set(sb.fields[metric][name]):
                continue
            pairing = stats.pair_by_id(
                sa.fields[metric][name], sb.fields[metric][name], missing="drop"
            )
            if len(pairing.a) < 2:
                continue
            if all(v in (0.0, 1.0) for v in (*pairing.a, *pairing.b)):
                result = stats.compare_binary(
                    [v == 1.0 for v in pairing.a],
                    [v == 1.0 for v in pairing.b],
                    higher_is_better=higher,
                    metric=metric,
                    seed=seed,
                )
            else:
                result = stats.compare_means(
                    list(pairing.a),
                    list(pairing.b),
                    higher_is_better=higher,
                    metric=metric,
                    seed=seed,
                )
            family.append((result, name, len(pairing.a)))
        if len(family) > 1:  # every field of one metric: one family (Holm)
            adjusted = stats.holm_adjust([r for r, _, _ in family])
            family = [(r, n, k) for r, (_, n, k) in zip(adjusted, family, strict=True)]
        found += family
    return found


def compare(workdir: Path, a: str, b: str, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (pair of runs, metric): a, b, delta, its CI, p-value, verdict."""
    index = runs_index(workdir)
    try:
        left, right = select_runs(index, a), select_runs(index, b)
    except RunNotFound as exc:
        raise CompareError(str(exc)) from None
    if len(left) == 1:
        pairs = [(left[0], run) for run in right if run_label(run) != run_label(left[0])]
    else:
        by_key = {(r["model"], r["dataset"], r["prompt"]): r for r in right}
        pairs = [
            (r, by_key[k]) for r in left if (k := (r["model"], r["dataset"], r["prompt"])) in by_key
        ]
    if not pairs:
        raise CompareError(f"{a!r} and {b!r} share no run to compare")
    loaded = [(load_scores(workdir, run_a), load_scores(workdir, run_b)) for run_a, run_b in pairs]
    return compare_runs(loaded, seed=seed)


def compare_runs(
    pairs: Sequence[tuple[RunScores, RunScores]], seed: int = 0
) -> list[dict[str, Any]]:
    """The one comparison rule, for ``vlmhb compare`` and the server's ``/api/compare`` alike.

    Per pair and metric both runs scored: the ratio form for corpus metrics (CER, WER: their
    ``ratios``), McNemar for 0/1 metrics (:data:`EXACT_METRICS`), a paired bootstrap for
    means; a run-level metric is ``not tested``; per-field rows are Holm-adjusted within a
    metric; with more than one pair, every metric row is Holm-adjusted across them (the
    family-wise error held at alpha). Rows carry ``run_a``/``run_b`` (each side's ``label``).
    """
    import vlmhb_statistics as stats
    from vlmhb_statistics import (
        answer_agreement,
        compare_binary,
        compare_means,
        compare_ratios,
        holm_adjust,
        pair_by_id,
    )

    comparisons, extras, untested = [], [], []
    field_rows: list[tuple[Any, dict[str, Any]]] = []
    for sa, sb in pairs:
        if not set(sa.answers) & set(sb.answers):  # nothing to pair: no test, no agreement
            continue
        agreement = answer_agreement(*_paired_answers(sa, sb))
        shared = {
            "run_a": sa.label,
            "run_b": sb.label,
            "agreement_exact": round(agreement.exact, 4),
            "agreement_normalized": round(agreement.normalized, 4),
        }
        for metric in [m for m in sa.values if m in sb.values]:
            higher = sa.higher_is_better.get(metric, True)
            if "run" in (sa.aggregation.get(metric), sb.aggregation.get(metric)):
                untested.append(_run_level_row(metric, sa, sb, higher, shared))
                continue
            if not set(sa.values[metric]) & set(sb.values[metric]):
                continue  # no sample scored on both sides
            if (
                metric in sa.ratios
                and metric in sb.ratios
                and set(sa.ratios[metric]) & set(sb.ratios[metric])
            ):
                pairing = pair_by_id(sa.ratios[metric], sb.ratios[metric], missing="drop")
                result = compare_ratios(
                    [x[0] for x in pairing.a],
                    [x[1] for x in pairing.a],
                    [x[0] for x in pairing.b],
                    [x[1] for x in pairing.b],
                    higher_is_better=higher,
                    metric=metric,
                    seed=seed,
                )
            elif metric in EXACT_METRICS:
                pairing = pair_by_id(sa.values[metric], sb.values[metric], missing="drop")
                result = compare_binary(
                    [v >= 0.5 for v in pairing.a],
                    [v >= 0.5 for v in pairing.b],
                    higher_is_better=higher,
                    metric=metric,
                    seed=seed,
                )
            else:
                pairing = pair_by_id(sa.values[metric], sb.values[metric], missing="drop")
                if len(pairing.a) < 2:
                    continue
                result = compare_means(
                    list(pairing.a),
                    list(pairing.b),
                    higher_is_better=higher,
                    metric=metric,
                    seed=seed,
                )
            comparisons.append(result)
            extras.append({**shared, "field": None, "samples": len(pairing.a)})
        for result, name, count in _field_comparisons(sa, sb, seed, stats):
            field_rows.append((result, {**shared, "field": name, "samples": count}))
    if len(pairs) > 1:  # many comparisons at once: family-wise error held at alpha (Holm)
        comparisons = holm_adjust(comparisons)
    rows = []
    for result, extra in [*zip(comparisons, extras, strict=True), *field_rows]:
        row = result.to_dict()
        row["verdict"] = str(getattr(result.verdict, "value", result.verdict))
        rows.append({**row, **extra})
    return rows + untested


def _run_level_row(
    metric: str, sa: RunScores, sb: RunScores, higher: bool, shared: dict[str, Any]
) -> dict[str, Any]:
    """A and B as the leaderboard shows them; no CI or p-value (see the module docstring)."""
    a, b = sa.run_values.get(metric), sb.run_values.get(metric)
    numbers = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (a, b))
    return {
        "metric": metric,
        "a": a,
        "b": b,
        "delta": b - a if numbers else None,  # type: ignore[operator]
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "verdict": NOT_TESTED,
        "test": "none: a run-level value, not the mean of per-sample values",
        "higher_is_better": higher,
        **shared,
        "field": None,
        "samples": len(set(sa.answers) & set(sb.answers)),
    }


def _paired_answers(sa: RunScores, sb: RunScores) -> tuple[dict, dict]:
    shared = sorted(set(sa.answers) & set(sb.answers))
    return {k: sa.answers[k] or "" for k in shared}, {k: sb.answers[k] or "" for k in shared}
