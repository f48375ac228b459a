"""Eval stage: score answers with metric packages and aggregate them.

Runs in an environment that holds only the metric packages (and this package):
``python -m vlmhb_stages.evaluate CONFIG.json``. Reads samples.jsonl and answers.jsonl, writes
per_sample.csv, metrics_<aggregator>.csv and metrics.json into the output folder, atomically.

metrics.json says, per metric, how its value relates to its per-sample values
(``aggregation``): ``mean`` (the value is their mean), ``ratio`` (a corpus ratio, CER/WER:
``ratios.json`` holds its parts) or ``run`` (a run-level statistic no per-sample average
reproduces: corpus chrF and BLEU, latency percentiles, throughput). A confidence interval or a
paired test (``vlmhb compare``) of a ``run`` metric's per-sample values would be about another
number than the one reported under its name, so it gets neither.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from vlmhb_stages.configs import EvalConfig, MetricSpec, emit

SAMPLE_FIELDS = ("doc_class", "question_type", "question")
"""Per-sample columns a metric may ask for by its ``sample_fields`` attribute."""
GROUPINGS = {
    "general": (),
    "by_doc_type": ("doc_class",),
    "by_doc_question": ("doc_class", "question_type"),
}


def load_metric(spec: MetricSpec) -> Any:
    if spec.callable:
        module, _, attr = spec.callable.partition(":")
        return getattr(importlib.import_module(module), attr)
    found = [
        ep for ep in entry_points(group="vlmhyperbench.metrics") if ep.name == spec.entry_point
    ]
    if not found:
        installed = sorted(ep.name for ep in entry_points(group="vlmhyperbench.metrics"))
        raise SystemExit(
            f"metric {spec.name!r}: no entry point {spec.entry_point!r} in group "
            f"vlmhyperbench.metrics (installed: {', '.join(installed) or 'none'})"
        )
    return found[0].load()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def reference_of(sample: dict[str, Any], output_kind: str) -> Any:
    if output_kind == "label":
        return sample.get("label")
    if output_kind == "json":
        return sample.get("fields")
    return sample.get("reference")


def telemetry_of(answer: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "latency_s",
        "server_latency_s",
        "prompt_tokens",
        "completion_tokens",
        "started_at",
        "finished_at",
        "cached",
    )
    return {k: answer.get(k) for k in keys}


class MetricRefused(SystemExit):
    """A metric refused this data (a ``ValueError`` naming the sample): one line, no traceback."""


def score(metric: Any, spec: MetricSpec, rows: list[dict[str, Any]], label: str = "") -> Any:
    """Call the metric on the rows; a ``ValueError`` it raises (data it cannot score, e.g. one
    reference where leave-one-out needs several) ends the stage with one line naming the
    metric and the run, never a traceback and never a half-written result."""
    try:
        return _call(metric, spec, rows)
    except ValueError as error:
        where = f" on {label}" if label else ""
        raise MetricRefused(
            f"metric {spec.column!r}{where} cannot score this dataset: {error}"
        ) from None


def _call(metric: Any, spec: MetricSpec, rows: list[dict[str, Any]]) -> Any:
    params = dict(spec.params)
    if spec.schema_param and spec.json_schema is not None:
        params[spec.schema_param] = spec.json_schema
    if spec.inputs == "telemetry":
        return metric([r["telemetry"] for r in rows], None, **params)
    for name in getattr(metric, "sample_fields", ()):
        if name not in SAMPLE_FIELDS:
            raise SystemExit(
                f"metric {spec.name!r} asks for the sample field {name!r}; the eval stage "
                f"provides {', '.join(SAMPLE_FIELDS)}"
            )
        params[name] = [r[name] or None for r in rows]
    return metric([r["prediction"] for r in rows], [r["reference"] for r in rows], **params)


def confidence_interval(result: Any, ratio: Any, config: EvalConfig) -> list[float] | None:
    """95% CI by a seeded bootstrap over samples, when vlmhb-statistics is installed here.

    Corpus-level metrics (CER, WER) resample samples and recompute their ratio; the rest
    resample per-sample values (samples without a value, e.g. unparsable JSON, are dropped).
    """
    try:
        from vlmhb_statistics import bootstrap_ci, bootstrap_ratio_ci
    except ImportError:
        return None
    options = {"n_resamples": config.ci_resamples, "seed": config.ci_seed}
    if ratio and sum(ratio["denominators"]) > 0:
        ci = bootstrap_ratio_ci(ratio["numerators"], ratio["denominators"], **options)
    else:
        values = [
            float(v)
            for v in result.per_sample
            if v is not None and isinstance(v, (int, float)) and math.isfinite(v)
        ]
        if len(values) < 2:
            return None
        ci = bootstrap_ci(values, **options)
    return [float(ci.low), float(ci.high)]


def per_field_summary(
    per_field: dict[str, dict[str, list[float]]],
    values: dict[str, dict[str, float]],
    config: EvalConfig,
) -> dict[str, dict[str, Any]]:
    """``{field: {metric: {"value", "ci", "n"}}}`` for the metrics that score each field
    (``details["per_field"]``), with a seeded bootstrap CI over that field's samples."""
    summary: dict[str, dict[str, Any]] = {}
    for column, by_field in values.items():
        for name, value in by_field.items():
            vector = [v for v in per_field.get(column, {}).get(name, []) if not _missing_number(v)]
            entry: dict[str, Any] = {"value": None if _missing_number(value) else float(value)}
            entry["n"] = len(vector)
            interval = _vector_ci(vector, config) if vector else None
            if interval is not None:
                entry["ci"] = interval
            summary.setdefault(name, {})[column] = entry
    return {name: summary[name] for name in sorted(summary)}


def _missing_number(value: Any) -> bool:
    return not isinstance(value, (int, float)) or not math.isfinite(value)


def _vector_ci(values: list[float], config: EvalConfig) -> list[float] | None:
    try:
        from vlmhb_statistics import bootstrap_ci
    except ImportError:
        return None
    if len(values) < 2:
        return None
    ci = bootstrap_ci(values, n_resamples=config.ci_resamples, seed=config.ci_seed)
    return [float(ci.low), float(ci.high)]


def write_per_field(
    path: Path, ids: list[str], per_field: dict[str, dict[str, list[float]]]
) -> None:
    """``per_field.csv``: one row per (sample, field) that any metric scored (long format,
    so ``vlmhb compare`` pairs a field's scores by sample id)."""
    columns = list(per_field)
    fields = sorted({name for vectors in per_field.values() for name in vectors})
    rows = []
    for i, sid in enumerate(ids):
        for name in fields:
            cells = [per_field[c].get(name, [math.nan] * len(ids))[i] for c in columns]
            if all(_missing_number(v) for v in cells):
                continue
            rows.append(
                [sid, name, *[fmt(float(v)) if not _missing_number(v) else "" for v in cells]]
            )
    write_csv(path, ["id", "field", *columns], rows)


def aggregation(result: Any, ratio: Any) -> str:
    """``mean``, ``ratio`` or ``run``: see the module docstring."""
    if ratio:
        return "ratio"
    values = [
        float(v)
        for v in result.per_sample
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]
    value = float(result.value)
    if values and math.isfinite(value):
        mean = math.fsum(values) / len(values)
        if math.isclose(mean, value, rel_tol=1e-9, abs_tol=1e-12):
            return "mean"
    return "run"


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def fmt(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 6)
    return value


def main(config_path: str) -> int:
    config = EvalConfig.model_validate_json(Path(config_path).read_text(encoding="utf-8"))
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = read_jsonl(Path(config.samples))
    answers = {a["id"]: a for a in read_jsonl(Path(config.answers))}
    kind = config.output_kind
    rows = []
    for sample in samples:
        sid = str(sample["id"])
        answer = answers.get(sid)
        if answer is None:
            continue  # only_evaluate on a partial run: score what exists
        rows.append(
            {
                "id": sid,
                "doc_class": sample.get("doc_class") or "",
                "question_type": sample.get("question_type") or "",
                "question": str((sample.get("prompt_vars") or {}).get("question") or ""),
                "prediction": answer.get("answer") or "",
                "reference": reference_of(sample, kind),
                "telemetry": telemetry_of(answer),
                "parse_status": answer.get("parse_status"),
            }
        )
    if not rows:
        raise SystemExit(f"no answers to score in {config.answers}")
    metric_specs = config.metrics
    per_sample: dict[str, list[float]] = {}
    #: Per-sample text a metric explains its scores with (a judge's verdict and rationale):
    #: ``details["per_sample_text"]``, written as ``<column>_<name>`` columns of per_sample.csv.
    sample_text: dict[str, list[str]] = {}
    #: What a metric reports beyond its value (judges' agreement): ``details["report"]``.
    reports: dict[str, Any] = {}
    general: dict[str, float] = {}
    keys: dict[str, str] = {}
    intervals: dict[str, list[float]] = {}
    ratios: dict[str, dict[str, list[float]]] = {}
    field_vectors: dict[str, dict[str, list[float]]] = {}
    field_values: dict[str, dict[str, float]] = {}
    aggregations: dict[str, str] = {}
    for i, spec in enumerate(metric_specs):
        metric = load_metric(spec)
        result = score(metric, spec, rows, config.label)
        per_sample[spec.column] = list(result.per_sample)
        details = getattr(result, "details", None) or {}
        for text_name, values in (details.get("per_sample_text") or {}).items():
            if len(values) == len(rows):
                sample_text[f"{spec.column}_{text_name}"] = [
                    "" if v is None else str(v) for v in values
                ]
        if details.get("report"):
            reports[spec.column] = details["report"]
        general[spec.column] = float(result.value)
        details = getattr(result, "details", None) or {}
        if isinstance(details.get("per_field"), dict) and spec.inputs == "answers":
            field_values[spec.column] = dict(details["per_field"])
            vectors = details.get("per_field_samples")
            if isinstance(vectors, dict):
                field_vectors[spec.column] = {k: list(v) for k, v in vectors.items()}
        ratio = details.get("ratio")
        if ratio:
            ratios[spec.column] = ratio
        aggregations[spec.column] = aggregation(result, ratio)
        if spec.inputs == "answers" and aggregations[spec.column] != "run":
            interval = confidence_interval(result, ratio, config)
            if interval is not None:
                intervals[spec.column] = interval
        computed = (
            f"{getattr(result, 'name', spec.name)}@{getattr(result, 'version', spec.version)}"
        )
        keys[spec.column] = computed
        if str(getattr(result, "version", spec.version)) != str(spec.version):
            print(
                f"warning: registry pins {spec.name} at version {spec.version}, "
                f"the installed package computed {computed}",
                file=sys.stderr,
            )
        emit("stage_progress", done=i + 1, total=len(metric_specs))
    names = [spec.column for spec in metric_specs]
    sample_names = [n for n in names if len(per_sample[n]) == len(rows)]
    by_id_rows = [
        [r["id"], r["doc_class"], r["question_type"], r["parse_status"], r["prediction"]]
        + [fmt(per_sample[n][i]) for n in sample_names]
        + [values[i] for values in sample_text.values()]
        for i, r in enumerate(rows)
    ]
    header = ["id", "doc_class", "question_type", "parse_status", "answer", *sample_names]
    header += list(sample_text)
    write_csv(out / "per_sample.csv", header, by_id_rows)
    for aggregator in config.aggregators:
        if aggregator == "by_id":
            write_csv(out / "metrics_by_id.csv", header, by_id_rows)
            continue
        fields = GROUPINGS[aggregator]
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(tuple(r[f] for f in fields), []).append(r)
        table = []
        for group_key, members in sorted(groups.items()):
            if aggregator == "general":
                values = [general[n] for n in names]
            else:
                values = [
                    float(score(load_metric(s), s, members, config.label).value)
                    for s in metric_specs
                ]
            table.append([*group_key, len(members), *[fmt(v) for v in values]])
        write_csv(out / f"metrics_{aggregator}.csv", [*fields, "samples", *names], table)
    summary = {
        "metrics": general,
        "ci": intervals,
        "ci_method": {
            "method": "percentile bootstrap over samples (corpus ratios recomputed)",
            "confidence": 0.95,
            "n_resamples": config.ci_resamples,
            "seed": config.ci_seed,
        },
        "higher_is_better": {s.column: s.higher_is_better for s in metric_specs},
        "aggregation": aggregations,
        "versions": keys,
        "reports": reports,
        "samples": len(rows),
        "failed": sum(1 for r in rows if r["parse_status"] == "failed"),
        "finished_at": time.time(),
    }
    ids = [r["id"] for r in rows]
    if field_values:
        summary["per_field"] = per_field_summary(field_vectors, field_values, config)
        write_per_field(out / "per_field.csv", ids, field_vectors)
    tmp = out / "ratios.json.tmp"
    tmp.write_text(json.dumps({"ids": ids, "ratios": ratios}, ensure_ascii=False), "utf-8")
    tmp.replace(out / "ratios.json")
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out / "metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
