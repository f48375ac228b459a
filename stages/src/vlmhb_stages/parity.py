"""Parity stage: re-score existing answers under every variant of each metric (no inference).

Runs in the metric packages' environment: ``python -m vlmhb_stages.parity CONFIG.json``.
For each run and each metric whose function lists ``variants`` (its ``compat`` values), it
computes our definition and every variant on the same answers and writes one row per (metric,
variant): value, delta from ours, and the share of samples whose score differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vlmhb_stages.configs import MetricSpec, ParityConfig
from vlmhb_stages.evaluate import MetricRefused, load_metric, read_jsonl, reference_of, score


def _score(metric, spec: MetricSpec, params, rows, label):
    """The eval stage's call (sample fields such as OCRBench's doc_class included)."""
    result = score(metric, spec.model_copy(update={"params": params}), rows, label)
    return float(result.value), list(result.per_sample)


def main(config_path: str) -> int:
    config = ParityConfig.model_validate_json(Path(config_path).read_text(encoding="utf-8"))
    rows = []
    for run in config.runs:
        samples = {str(s["id"]): s for s in read_jsonl(Path(run.samples))}
        answers = read_jsonl(Path(run.answers))
        scored = [a for a in answers if str(a["id"]) in samples]
        pairs = [
            {
                "prediction": a.get("answer") or "",
                "reference": reference_of(samples[str(a["id"])], run.output_kind),
                "doc_class": samples[str(a["id"])].get("doc_class") or "",
                "question_type": samples[str(a["id"])].get("question_type") or "",
            }
            for a in scored
        ]
        seen: set[str] = set()
        for spec in run.metrics:
            metric = load_metric(spec)
            variants = getattr(metric, "variants", ())
            if spec.inputs != "answers" or not variants:
                continue
            base = {k: v for k, v in spec.params.items() if k != "compat"}
            # a task listing a metric and its variant (anls, anls_lmms_eval) is compared once
            identity = json.dumps([spec.entry_point, spec.callable, base], sort_keys=True)
            if identity in seen:
                continue
            seen.add(identity)
            ours, ours_each = _score(metric, spec, base, pairs, run.label)
            rows.append(
                {
                    "run": run.label,
                    "metric": spec.name,
                    "variant": "ours",
                    "value": ours,
                    "delta": 0.0,
                    "differ": 0.0,
                    "samples": len(scored),
                }
            )
            for variant in variants:
                try:
                    value, each = _score(
                        metric, spec, {**base, "compat": variant}, pairs, run.label
                    )
                except MetricRefused as refused:  # e.g. a variant that fixes what base sets
                    print(f"parity: {variant}: {refused}", file=sys.stderr)
                    continue
                differ = sum(1 for x, y in zip(ours_each, each, strict=True) if x != y)
                rows.append(
                    {
                        "run": run.label,
                        "metric": spec.name,
                        "variant": variant,
                        "value": value,
                        "delta": value - ours,
                        "differ": differ / len(scored) if scored else 0.0,
                        "samples": len(scored),
                    }
                )
    out = Path(config.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
