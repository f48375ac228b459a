"""``vlmhb compare A B``: paired, honest comparison of two runs (or experiments) on the same
samples, with a verdict per metric that a CI pipeline can gate on.

A run is named ``model/dataset/prompt`` (B may be a glob: many prompts against one, then the
p-values are Holm-adjusted); an experiment by its name (every run the two share, matched on
model, dataset and prompt). Scores come from the work dir: each evaluation's
``per_sample.csv`` (and ``ratios.json`` for corpus-level metrics such as CER).
"""

from __future__ import annotations

import csv
import fnmatch
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..workdir import Workdir, read_json

EXACT_METRICS = {"exact_match", "accuracy"}
"""0/1 per sample: compared with McNemar's test."""


class CompareError(ValueError):
    """A named run or experiment is not in the work dir (the message lists what is)."""


@dataclass
class RunScores:
    label: str
    key: tuple[str, str, str]  # model, dataset, prompt
    values: dict[str, dict[str, float]]  # metric -> sample id -> value
    ratios: dict[str, dict[str, tuple[float, float]]]  # metric -> id -> (num, den)
    answers: dict[str, str | None]
    higher_is_better: dict[str, bool]


def _runs_index(workdir: Workdir) -> list[dict[str, Any]]:
    """Every run recorded by a report in the work dir, newest report last."""
    found = []
    reports = sorted(
        (workdir.root / "reports").glob("*/runs.json"), key=lambda p: p.stat().st_mtime
    )
    for path in reports:
        for run in read_json(path):
            if run.get("eval_id") and run.get("model"):
                found.append({**run, "experiment": path.parent.name})
    return found


def _label(run: dict[str, Any]) -> str:
    return f"{run['model']}/{run['dataset']}/{run['prompt']}"


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def load_scores(workdir: Workdir, run: dict[str, Any]) -> RunScores:
    folder = workdir.stage_dir("eval", run["eval_id"])
    if not Workdir.is_done(folder):
        raise CompareError(f"run {_label(run)}: its evaluation {folder} is not complete")
    metrics = read_json(folder / "metrics.json")
    with (folder / "per_sample.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fixed = {"id", "doc_class", "question_type", "parse_status", "answer"}
    columns = [c for c in (rows[0] if rows else {}) if c not in fixed]
    values = {c: {r["id"]: v for r in rows if (v := _float(r[c])) is not None} for c in columns}
    ratios: dict[str, dict[str, tuple[float, float]]] = {}
    ratio_path = folder / "ratios.json"
    if ratio_path.exists():
        data = json.loads(ratio_path.read_text(encoding="utf-8"))
        for column, ratio in data.get("ratios", {}).items():
            pairs = zip(ratio["numerators"], ratio["denominators"], strict=True)
            ratios[column] = dict(zip(data["ids"], pairs, strict=True))
    return RunScores(
        label=_label(run),
        key=(run["model"], run["dataset"], run["prompt"]),
        values=values,
        ratios=ratios,
        answers={r["id"]: r["answer"] for r in rows},
        higher_is_better=metrics.get("higher_is_better", {}),
    )


def _select(index: list[dict[str, Any]], ref: str) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    if ref.count("/") == 2:
        for run in index:
            if fnmatch.fnmatchcase(_label(run), ref):
                latest[_label(run)] = run
    else:
        for run in index:
            if run["experiment"] == ref:
                latest[_label(run)] = run
    if not latest:
        known = sorted({_label(r) for r in index} | {r["experiment"] for r in index})
        raise CompareError(
            f"no run or experiment {ref!r} in the work dir (expected model/dataset/prompt or an "
            f"experiment name; known: {', '.join(known) or 'none'})"
        )
    return list(latest.values())


def compare(workdir: Path, a: str, b: str, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (pair of runs, metric): a, b, delta, its CI, p-value, verdict."""
    from vlmhb_statistics import (
        answer_agreement,
        compare_binary,
        compare_means,
        compare_ratios,
        holm_adjust,
        pair_by_id,
    )

    folders = Workdir(workdir)
    index = _runs_index(folders)
    left, right = _select(index, a), _select(index, b)
    if len(left) == 1:
        pairs = [(left[0], run) for run in right if _label(run) != _label(left[0])]
    else:
        by_key = {(r["model"], r["dataset"], r["prompt"]): r for r in right}
        pairs = [
            (r, by_key[k]) for r in left if (k := (r["model"], r["dataset"], r["prompt"])) in by_key
        ]
    if not pairs:
        raise CompareError(f"{a!r} and {b!r} share no run to compare")
    comparisons, extras = [], []
    for run_a, run_b in pairs:
        sa, sb = load_scores(folders, run_a), load_scores(folders, run_b)
        agreement = answer_agreement(*_paired_answers(sa, sb, pair_by_id))
        for metric in [m for m in sa.values if m in sb.values]:
            higher = sa.higher_is_better.get(metric, True)
            if metric in sa.ratios and metric in sb.ratios:
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
            extras.append(
                {
                    "run_a": sa.label,
                    "run_b": sb.label,
                    "samples": len(pairing.a),
                    "agreement_exact": round(agreement.exact, 4),
                    "agreement_normalized": round(agreement.normalized, 4),
                }
            )
    if len(pairs) > 1:  # many comparisons at once: family-wise error held at alpha (Holm)
        comparisons = holm_adjust(comparisons)
    rows = []
    for result, extra in zip(comparisons, extras, strict=True):
        row = result.to_dict()
        row["verdict"] = str(getattr(result.verdict, "value", result.verdict))
        rows.append({**row, **extra})
    return rows


def _paired_answers(sa: RunScores, sb: RunScores, pair_by_id: Any) -> tuple[dict, dict]:
    shared = sorted(set(sa.answers) & set(sb.answers))
    return {k: sa.answers[k] or "" for k in shared}, {k: sb.answers[k] or "" for k in shared}
