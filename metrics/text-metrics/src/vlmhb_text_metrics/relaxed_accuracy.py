"""Relaxed accuracy (ChartQA, Masry et al., ACL Findings 2022, after Methani et al. 2020):
a numeric answer is correct within a 5% relative tolerance, any other answer must match
exactly. Chart answers are read off plotted values, so an exact-match score would punish a
reading that is as good as the chart allows.

Written from the definition as pix2struct's ``relaxed_correctness`` states it (the code
ChartQA numbers in lmms-eval and VLMEvalKit come from; lmms-eval's ``chartqa`` applies it to
the answer as it is, which is this default)::

    f(x)    = float(x[:-1]) / 100 if x ends with "%" else float(x)     (None if not a number)
    correct = |f(o) - f(a)| / |f(a)| <= tolerance       if f(o) is a number and f(a) is not 0
            = lower(o) == lower(a)                        otherwise

``float`` is Python's: surrounding whitespace, ``1e3`` and ``1_000`` parse, ``1,000`` does
not (it falls back to the string comparison). A reference of 0 is compared as a string,
since no relative tolerance exists around 0. Several accepted answers: the best of them.

``compat="vlmevalkit"`` is VLMEvalKit's ChartQA score (``process_line(...,
"relaxed_accuracy")``): the prediction is stripped first (``" 12 "`` parses either way, but
``"Yes\n"`` equals ``"yes"`` only there); the references are compared as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._inputs import accepted_at, check_pairs, check_variant, text_at
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric


def _to_float(text: str) -> float | None:
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100.0
        return float(text)
    except ValueError:
        return None


RELAXED_VARIANTS = ("vlmevalkit",)


def relaxed_correct(prediction: str, answer: str, tolerance: float = 0.05) -> bool:
    """One pair: within ``tolerance`` relative change for numbers, else case-blind equality."""
    predicted, target = _to_float(prediction), _to_float(answer)
    if predicted is not None and target:
        return abs(predicted - target) / abs(target) <= tolerance
    return prediction.lower() == answer.lower()


@metric("relaxed_accuracy", "1", variants=RELAXED_VARIANTS)
def relaxed_accuracy(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    tolerance: float = 0.05,
    compat: str | None = None,
    **params: bool,
) -> MetricResult:
    """Share of samples whose prediction is relaxed-correct for some accepted answer.

    ``tolerance`` is the largest relative change a number may have (ChartQA: 0.05). The
    package's normalisation options (all off) run before the comparison.
    ``compat="vlmevalkit"`` strips the prediction first, as VLMEvalKit does.
    """
    check_pairs(predictions, references)
    check_variant("relaxed_accuracy", compat, RELAXED_VARIANTS, params)
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, (int, float))
        or not math.isfinite(tolerance)
        or tolerance < 0
    ):
        raise ValueError(
            f"relaxed_accuracy: tolerance must be a finite number >= 0, got {tolerance!r}"
        )
    options = options_from("relaxed_accuracy", params)
    norm = normalizer(options)
    per_sample: list[float] = []
    numeric = 0
    for i, (hyp, ref) in enumerate(zip(predictions, references, strict=True)):
        prediction = norm(text_at(hyp, "predictions", i))
        if compat == "vlmevalkit":
            prediction = prediction.strip()
        answers = [norm(a) for a in accepted_at(ref, i)]
        numeric += any(_to_float(a) for a in answers)
        per_sample.append(float(any(relaxed_correct(prediction, a, tolerance) for a in answers)))
    value = sum(per_sample) / len(per_sample) if per_sample else 0.0
    return MetricResult(
        name="relaxed_accuracy",
        version="1",
        value=value,
        per_sample=per_sample,
        details={
            "tolerance": tolerance,
            "numeric_references": numeric,
            "normalization": options.as_dict(),
        },
        # a variant is named in params; ours keeps version 1's params (and so its identity)
        params={
            "tolerance": tolerance,
            **options.as_dict(),
            **({"compat": compat} if compat else {}),
        },
    )
