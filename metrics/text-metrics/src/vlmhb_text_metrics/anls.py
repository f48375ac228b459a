"""ANLS, Average Normalized Levenshtein Similarity (Biten et al., "Scene Text Visual Question
Answering", ICCV 2019; used by DocVQA), and the variants other tools print under the same
name. Published numbers made with lmms-eval or VLMEvalKit are not comparable with the
paper's definition, so each is reproduced here under its own name.

For sample i with accepted answers a_ij, prediction o_i and threshold tau (0.5):

``compat=None`` (ours, the paper's definition; the default)::

    a', o'   = normalise(a), normalise(o)       (lowercase, collapse whitespace by default)
    NL(a, o) = lev(a', o') / max(|a'|, |o'|)    (0 when both are empty)
    s(a, o)  = 1 - NL  if NL < tau  else 0      (a score at exactly the threshold is dropped)

``compat="lmms-eval"`` (lmms-eval's ``anls``, taken from Qwen-VL's InfographicVQA script)::

    a', o'   = " ".join(x.strip().lower().split())          for x in (a, o)
    NL(a, o) = lev(a', o') / max(|upper(a)|, |upper(o)|)     (raw lengths; 0 when both are 0)
    s(a, o)  = 0  if 1 - NL < 1 - tau  else 1 - NL          (a score at the threshold is kept)

``compat="vlmevalkit"`` (VLMEvalKit's DocVQA / InfoVQA scorer: ``anls_compute`` of
``vlmeval/dataset/utils/vqa_eval.py`` with ``hit_calculate``): the same formula as
lmms-eval's (normalised strings, raw lengths, a score at the threshold kept). It has its
own name because it is another tool's claim, checked against that tool's code.

In every variant ``ANLS = mean_i max_j s(a_ij, o_i)``. The lengths of ``upper()`` are what the
tools divide by; they differ from the plain length for a few characters (``ß`` -> ``SS``).

Version 2: ``compat="vlmevalkit"`` was VLMEvalKit's long-document scorer (MMLongBench-Doc's
``anls_compute``: no normalisation, a score at the threshold dropped), which is not what
VLMEvalKit reports for DocVQA / InfoVQA; it reads about 10 points low there. That scorer is
not reproduced any more (no benchmark here uses it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rapidfuzz.distance import Levenshtein

from ._inputs import accepted_at, check_pairs, check_variant, text_at
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric

# The DocVQA evaluation lowercases and collapses whitespace before comparing.
ANLS_DEFAULTS = {"lowercase": True, "collapse_whitespace": True}
ANLS_VARIANTS = ("lmms-eval", "vlmevalkit")


def _ours(norm: Callable[[str], str], threshold: float) -> Callable[[str, str], float]:
    distance = Levenshtein.normalized_distance

    def score(answer: str, prediction: str) -> float:
        nl = distance(norm(answer), norm(prediction))
        return 1.0 - nl if nl < threshold else 0.0

    return score


def _tool(threshold: float) -> Callable[[str, str], float]:
    """The InfographicVQA-script family (lmms-eval, VLMEvalKit): distance of normalised
    strings over the length of the raw strings, a similarity at the threshold kept."""
    floor = 1.0 - threshold

    def score(answer: str, prediction: str) -> float:
        length = max(len(answer.upper()), len(prediction.upper()))
        answer = " ".join(answer.strip().lower().split())
        prediction = " ".join(prediction.strip().lower().split())
        nl = Levenshtein.distance(answer, prediction) / length if length else 0.0
        similarity = 1.0 - nl
        return similarity if similarity >= floor else 0.0

    return score


@metric("anls", "2", variants=ANLS_VARIANTS)
def anls(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    threshold: float = 0.5,
    compat: str | None = None,
    **params: bool,
) -> MetricResult:
    """ANLS over samples; a reference is one accepted answer or a list of them (max over them).

    ``compat`` picks the definition (module docstring): None for ours (the paper's),
    ``"lmms-eval"`` or ``"vlmevalkit"`` to reproduce those tools' numbers. Our normalisation
    defaults to DocVQA's (``lowercase`` and ``collapse_whitespace`` on) and any normalisation
    option overrides it; the tool variants fix their own and refuse normalisation options,
    since a changed normalisation would no longer reproduce the tool.
    """
    check_pairs(predictions, references)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(f"anls: threshold must be a number in (0, 1], got {threshold!r}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"anls: threshold must be a number in (0, 1], got {threshold!r}")
    check_variant("anls", compat, ANLS_VARIANTS, params)
    if compat is None:
        options = options_from("anls", {**ANLS_DEFAULTS, **params})
        score = _ours(normalizer(options), threshold)
        normalization: dict[str, bool] | str = options.as_dict()
    else:
        score = _tool(threshold)
        normalization = "strip, lowercase, split/join whitespace"
    per_sample: list[float] = []
    for i, (hyp, ref) in enumerate(zip(predictions, references, strict=True)):
        prediction = text_at(hyp, "predictions", i)
        per_sample.append(max(score(answer, prediction) for answer in accepted_at(ref, i)))
    value = sum(per_sample) / len(per_sample) if per_sample else 0.0
    return MetricResult(
        name="anls",
        version=anls.version,
        value=value,
        per_sample=per_sample,
        details={"threshold": threshold, "normalization": normalization},
        params={"compat": compat, "threshold": threshold, **_flags(normalization)},
    )


def _flags(normalization: dict[str, bool] | str) -> dict[str, bool]:
    return normalization if isinstance(normalization, dict) else {}
