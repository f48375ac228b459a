"""Per-field scores and field-level precision / recall / F1 for extracted JSON.

Both sides are flattened to ``path -> text`` (nested objects as ``a.b``, list items as
``a[0]``; strings as they are, ``null`` as ``""``, other scalars as their JSON text), so a
predicted ``"1000"`` and a reference ``1000`` compare equal. An answer that cannot be
decoded counts as predicting no field at all (every reference field missing), never as an
error. JSON inside a code fence or inside prose is still scored: these metrics measure the
content; `structural_fidelity` measures the format.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import Levenshtein

from ._inputs import check_pairs, check_prediction, reference_object
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric
from .parsing import parse_output


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": [x, y]}`` -> ``{"a.b": "1", "c[0]": "x", "c[1]": "y"}``."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        if not value and prefix:
            out[prefix] = ""
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        if not value and prefix:
            out[prefix] = ""
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
    elif prefix:
        out[prefix] = _text(value)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class _Sample:
    predicted: dict[str, str]
    reference: dict[str, str]
    raw_predicted: dict[str, str]
    raw_reference: dict[str, str]
    parsed: bool
    fenced: bool


def _samples(
    name: str, predictions: Any, references: Any, params: dict[str, Any]
) -> tuple[list[_Sample], dict[str, bool]]:
    check_pairs(predictions, references)
    options = options_from(name, params)
    norm = normalizer(options)
    samples = []
    for i, (raw, ref) in enumerate(zip(predictions, references, strict=True)):
        check_prediction(raw, i)
        reference = flatten(reference_object(ref, i))
        parsed = parse_output(raw)
        value = parsed.value if isinstance(parsed.value, dict) else {}
        predicted = flatten(value)
        samples.append(
            _Sample(
                predicted={k: norm(v) for k, v in predicted.items()},
                reference={k: norm(v) for k, v in reference.items()},
                raw_predicted=predicted,
                raw_reference=reference,
                parsed=isinstance(parsed.value, dict),
                fenced=parsed.fenced,
            )
        )
    return samples, options.as_dict()


def _per_field(
    func: Any,
    score: Callable[[str | None, str], float],
    predictions: Sequence[Any],
    references: Sequence[Any],
    params: dict[str, Any],
) -> MetricResult:
    samples, normalization = _samples(func.name, predictions, references, params)
    per_sample: list[float] = []
    by_field: dict[str, list[float]] = {}
    vectors: dict[str, list[float]] = {}
    for i, sample in enumerate(samples):
        scores = []
        for path, expected in sample.reference.items():
            s = score(sample.predicted.get(path), expected)
            scores.append(s)
            by_field.setdefault(path, []).append(s)
            vectors.setdefault(path, [math.nan] * len(samples))[i] = s
        per_sample.append(sum(scores) / len(scores) if scores else math.nan)
    every = [s for values in by_field.values() for s in values]
    return MetricResult(
        name=func.name,
        version=func.version,
        value=sum(every) / len(every) if every else math.nan,
        per_sample=per_sample,
        details={
            "per_field": {k: sum(v) / len(v) for k, v in sorted(by_field.items())},
            "field_count": {k: len(v) for k, v in sorted(by_field.items())},
            "per_field_samples": dict(sorted(vectors.items())),
            "unparsable": sum(not s.parsed for s in samples),
            "fenced": sum(s.fenced for s in samples),
            "normalization": normalization,
        },
    )


def _exact(predicted: str | None, expected: str) -> float:
    return float(predicted is not None and predicted == expected)


def _cer(predicted: str | None, expected: str) -> float:
    edits = Levenshtein.distance(expected, predicted or "")
    return edits / len(expected) if expected else float(edits)


@metric("field_exact_match", "1")
def field_exact_match(
    predictions: Sequence[Any], references: Sequence[Any], **params: bool
) -> MetricResult:
    """Share of reference fields whose predicted value equals the reference (normalised).

    value: over all (sample, field) pairs; per sample: over that sample's fields;
    ``details["per_field"]``: per field path. A sample whose reference has no fields
    scores NaN (excluded from value).
    """
    return _per_field(field_exact_match, _exact, predictions, references, params)


@metric("field_anls", "1")
def field_anls(
    predictions: Sequence[Any],
    references: Sequence[Any],
    *,
    threshold: float = 0.5,
    **params: bool,
) -> MetricResult:
    """ANLS per field (``1 - NL`` if ``NL < threshold`` else 0; a missing field scores 0)."""

    def score(predicted: str | None, expected: str) -> float:
        if predicted is None:
            return 0.0
        distance = Levenshtein.normalized_distance(expected, predicted)
        return 1.0 - distance if distance < threshold else 0.0

    if not isinstance(threshold, (int, float)) or not 0.0 < threshold <= 1.0:
        raise ValueError(f"field_anls: threshold must be a number in (0, 1], got {threshold!r}")
    result = _per_field(field_anls, score, predictions, references, params)
    result.details["threshold"] = threshold
    return result


@metric("field_cer", "1")
def field_cer(
    predictions: Sequence[Any], references: Sequence[Any], **params: bool
) -> MetricResult:
    """CER per field (edits / reference length; a missing field is scored against ``""``,
    i.e. 1.0), averaged per field and overall. Lower is better; can exceed 1."""
    return _per_field(field_cer, _cer, predictions, references, params)


def _ratio(num: int, den: int, empty: bool) -> float:
    """0/0 is 1.0 when there was nothing to find and nothing was claimed, else 0.0."""
    if den:
        return num / den
    return 1.0 if empty else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


_OUTCOMES = ("tp", "fp", "fn", "missing", "hallucinated", "wrong_value")


def _outcomes(sample: _Sample, match: str) -> dict[str, dict[str, int]]:
    """Each field path of one sample -> its counts: a correct value (tp), a missing one (fn),
    a wrong one (fp and fn), a hallucinated one (fp). Empty values are not answers."""
    found = {k for k, v in sample.raw_predicted.items() if v.strip()}
    expected = {k for k, v in sample.raw_reference.items() if v.strip()}
    per: dict[str, dict[str, int]] = {}
    for path in found | expected:
        counts = dict.fromkeys(_OUTCOMES, 0)
        if path in found and path in expected:
            right = match == "key" or sample.predicted[path] == sample.reference[path]
            counts["tp" if right else "wrong_value"] += 1
            if not right:
                counts["fp"] += 1
                counts["fn"] += 1
        elif path in expected:
            counts["missing"] += 1
            counts["fn"] += 1
        else:
            counts["hallucinated"] += 1
            counts["fp"] += 1
        per[path] = counts
    return per


def _scores(counts: dict[str, int]) -> dict[str, float]:
    empty = counts["tp"] + counts["fp"] + counts["fn"] == 0
    p = _ratio(counts["tp"], counts["tp"] + counts["fp"], empty)
    r = _ratio(counts["tp"], counts["tp"] + counts["fn"], empty)
    return {"precision": p, "recall": r, "f1": 1.0 if empty else _f1(p, r)}


def _prf(
    func: Any, predictions: Sequence[Any], references: Sequence[Any], match: str, params: Any
) -> MetricResult:
    if match not in ("exact", "key"):
        raise ValueError(f"{func.name}: match must be 'exact' or 'key', got {match!r}")
    samples, normalization = _samples(func.name, predictions, references, params)
    headline = func.name.removeprefix("field_")
    totals = dict.fromkeys(_OUTCOMES, 0)
    by_field: dict[str, dict[str, int]] = {}
    outcomes = [_outcomes(sample, match) for sample in samples]
    per_sample = []
    for per in outcomes:
        sample_counts = dict.fromkeys(_OUTCOMES, 0)
        for path, counts in per.items():
            field_counts = by_field.setdefault(path, dict.fromkeys(_OUTCOMES, 0))
            for key, n in counts.items():
                sample_counts[key] += n
                field_counts[key] += n
                totals[key] += n
        per_sample.append(_scores(sample_counts)[headline])
    overall = _scores(totals)
    per_field = {path: {**_scores(c), **c} for path, c in sorted(by_field.items())}
    details: dict[str, Any] = {
        **overall,
        **totals,
        "per_field": {path: scores[headline] for path, scores in per_field.items()},
        "per_field_counts": per_field,
        "match": match,
        "unparsable": sum(not s.parsed for s in samples),
        "normalization": normalization,
    }
    if headline != "f1":
        # precision: 1/0 where the model gave the field, recall: where the reference has it
        side = "fp" if headline == "precision" else "fn"
        details["per_field_samples"] = {
            path: [
                math.nan
                if path not in per or per[path]["tp"] + per[path][side] == 0
                else float(per[path]["tp"])
                for per in outcomes
            ]
            for path in sorted(by_field)
        }
    return MetricResult(
        name=func.name,
        version=func.version,
        value=overall[headline],
        per_sample=per_sample,
        details=details,
    )


@metric("field_precision", "2")
def field_precision(
    predictions: Sequence[Any], references: Sequence[Any], *, match: str = "exact", **params: bool
) -> MetricResult:
    """Micro precision over fields: correct values / values the model gave.

    A field the model left out (absent, ``null`` or empty) is no claim, so it never lowers
    precision; a wrong value or a hallucinated field (empty or absent in the reference) does.
    ``match="key"`` counts every given value of a reference field as correct.
    """
    return _prf(field_precision, predictions, references, match, params)


@metric("field_recall", "2")
def field_recall(
    predictions: Sequence[Any], references: Sequence[Any], *, match: str = "exact", **params: bool
) -> MetricResult:
    """Micro recall over fields: correct values / non-empty reference fields.

    A missing field and a wrong value both lower recall (``details`` counts them apart).
    """
    return _prf(field_recall, predictions, references, match, params)


@metric("field_f1", "2")
def field_f1(
    predictions: Sequence[Any], references: Sequence[Any], *, match: str = "exact", **params: bool
) -> MetricResult:
    """Harmonic mean of micro field precision and recall (details carry both, per field
    too). Equals exact match only when the model answers every field; leaving a field out
    costs recall alone, a wrong value costs both."""
    return _prf(field_f1, predictions, references, match, params)


@metric("field_omission_rate", "1")
def field_omission_rate(
    predictions: Sequence[Any], references: Sequence[Any], **params: bool
) -> MetricResult:
    """Share of non-empty reference fields the model left out (absent, ``null`` or empty):
    how often it says nothing rather than something wrong. Lower is better; an unparsable
    answer leaves every field out. Per field in ``details["per_field"]``."""
    samples, normalization = _samples(field_omission_rate.name, predictions, references, params)
    by_field: dict[str, list[float]] = {}
    per_sample: list[float] = []
    for i, sample in enumerate(samples):
        scores = []
        for path, expected in sample.raw_reference.items():
            if not expected.strip():
                continue
            left_out = float(not sample.raw_predicted.get(path, "").strip())
            scores.append(left_out)
            by_field.setdefault(path, [math.nan] * len(samples))[i] = left_out
        per_sample.append(sum(scores) / len(scores) if scores else math.nan)
    every = [v for values in by_field.values() for v in values if not math.isnan(v)]
    return MetricResult(
        name=field_omission_rate.name,
        version=field_omission_rate.version,
        value=sum(every) / len(every) if every else math.nan,
        per_sample=per_sample,
        details={
            "per_field": {k: nanmean(v) for k, v in sorted(by_field.items())},
            "per_field_samples": dict(sorted(by_field.items())),
            "left_out": int(sum(every)),
            "expected": len(every),
            "unparsable": sum(not s.parsed for s in samples),
            "normalization": normalization,
        },
    )


def nanmean(values: list[float]) -> float:
    """The mean of the values that are not NaN (NaN when none is)."""
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan
