"""OCRBench accuracy (Liu et al., "OCRBench: On the Hidden Mystery of OCR in Large Multimodal
Models", 2023): an answer is right when an accepted answer, normalised, is *contained* in the
normalised prediction. OCRBench asks for free-form answers and its questions come from 29
datasets with their own answer styles, so its authors score containment instead of equality;
a number printed here is what OCRBench's own script prints, divided by the sample count
(its "Final Score" over the 1,000 questions is ``value * 1000``).

Written from the authors' evaluation script (Yuliang-Liu/MultimodalOCR, the OCRBench scripts
that score ``dataset_name``/``answers``/``predict``; lmms-eval's ``ocrbench`` task copies it)::

    HME100k samples (handwritten formulas, LaTeX answers): case kept, every space removed
        a' = a.strip().replace("\\n", " ").replace(" ", "")      (same for the prediction p')
    every other sample: case-blind, ends stripped, newlines as spaces
        a' = a.lower().strip().replace("\\n", " ")               (same for the prediction p')
    score = 1 if a' in p' for some accepted answer a, else 0

``strip()`` is Python's (any whitespace at the ends); only ``" "`` is removed inside an
HME100k string (a tab stays), and inner whitespace is otherwise kept as it is, as in the
script. Which samples get the HME100k rule is decided by the sample's source dataset, passed
as ``doc_class`` (one value per sample: OCRBench's ``dataset`` column, which the registry's
``ocrbench`` entry maps to ``doc_class``); without ``doc_class`` every sample gets the general
rule, and ``details["doc_class_given"]`` says so.

Differences from the script, on purpose: an accepted answer that is empty after normalisation
is a ``ValueError`` naming the sample (the script counts it as found in any prediction);
the package's normalisation options (all off) may run before OCRBench's own. Some lmms-eval
versions lowercase the prediction before the HME100k rule (which then never matches an answer
holding a capital letter); that is not reproduced here.

``compat="lmms-eval"`` is lmms-eval's ``ocrbench`` as of 0.7.3: for every sample but
HME100k, fullwidth ASCII forms (U+FF01..U+FF5E) become their ASCII letters and the
ideographic space (U+3000) a space before the general rule (Chinese-trained models often
answer ``ＳＴＯＰ`` or ``１２３``); nothing else of NFKC is applied. HME100k keeps the
authors' rule. The default stays the authors' rule (no folding).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._inputs import accepted_at, check_pairs, check_variant, text_at
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric

SPACE_BLIND_DATASETS = ("HME100k",)
"""OCRBench's source datasets scored without spaces and case-sensitively (LaTeX formulas)."""


OCRBENCH_VARIANTS = ("lmms-eval",)
_FULLWIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_fullwidth(text: str) -> str:
    """Fullwidth ASCII forms to ASCII and the ideographic space to a space (lmms-eval)."""
    return text.translate(_FULLWIDTH_TO_ASCII)


def ocrbench_normalize(text: str, space_blind: bool = False) -> str:
    """One string as OCRBench's script compares it (``space_blind``: the HME100k rule)."""
    if space_blind:
        return text.strip().replace("\n", " ").replace(" ", "")
    return text.lower().strip().replace("\n", " ")


def _doc_classes(doc_class: Sequence[str | None] | None, count: int) -> list[str | None]:
    if doc_class is None:
        return [None] * count
    if isinstance(doc_class, (str, bytes)) or not isinstance(doc_class, Sequence):
        raise ValueError(
            "ocrbench_accuracy: doc_class must be a list with one source dataset per sample "
            f"(e.g. 'HME100k'), got {type(doc_class).__name__}"
        )
    if len(doc_class) != count:
        raise ValueError(
            f"ocrbench_accuracy: doc_class has {len(doc_class)} values for {count} samples; "
            "expected one per sample"
        )
    for i, value in enumerate(doc_class):
        if value is not None and not isinstance(value, str):
            raise ValueError(
                f"ocrbench_accuracy: doc_class[{i}] is {type(value).__name__}; expected a string"
            )
    return list(doc_class)


@metric("ocrbench_accuracy", "1", variants=OCRBENCH_VARIANTS)
def ocrbench_accuracy(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    doc_class: Sequence[str | None] | None = None,
    space_blind: Sequence[str] = SPACE_BLIND_DATASETS,
    compat: str | None = None,
    **params: bool,
) -> MetricResult:
    """Share of samples whose prediction contains a normalised accepted answer (OCRBench).

    ``doc_class``: each sample's source dataset (OCRBench's ``dataset`` column); samples
    whose source is in ``space_blind`` (default: HME100k) are compared case-sensitively with
    every space removed. The package's normalisation options (all off) run first.
    ``compat="lmms-eval"`` folds fullwidth forms to ASCII first, as lmms-eval >= 0.7.3 does
    (module docstring).
    """
    check_pairs(predictions, references)
    check_variant("ocrbench_accuracy", compat, OCRBENCH_VARIANTS, params)
    if isinstance(space_blind, str) or not all(isinstance(s, str) for s in space_blind):
        raise ValueError(
            "ocrbench_accuracy: space_blind must be a list of source dataset names, "
            f"got {space_blind!r}"
        )
    blind = sorted(set(space_blind))
    classes = _doc_classes(doc_class, len(predictions))
    options = options_from("ocrbench_accuracy", params)
    norm = normalizer(options)
    fold = fold_fullwidth if compat == "lmms-eval" else _unchanged
    per_sample: list[float] = []
    blind_samples = 0
    for i, (hyp, ref) in enumerate(zip(predictions, references, strict=True)):
        is_blind = classes[i] in blind
        blind_samples += is_blind
        general = _unchanged if is_blind else fold
        prediction = ocrbench_normalize(general(norm(text_at(hyp, "predictions", i))), is_blind)
        found = False
        for j, answer in enumerate(accepted_at(ref, i)):
            wanted = ocrbench_normalize(general(norm(answer)), is_blind)
            if not wanted:
                raise ValueError(
                    f"references[{i}][{j}] is empty after normalisation ({answer!r}); an empty "
                    "answer is contained in every prediction, so it cannot be scored"
                )
            found = found or wanted in prediction
        per_sample.append(float(found))
    value = sum(per_sample) / len(per_sample) if per_sample else 0.0
    return MetricResult(
        name="ocrbench_accuracy",
        version="1",
        value=value,
        per_sample=per_sample,
        details={
            "correct": int(sum(per_sample)),
            "doc_class_given": doc_class is not None,
            "space_blind_samples": blind_samples,
            "normalization": options.as_dict(),
        },
        # a variant is named in params; ours keeps version 1's params (and so its identity)
        params={
            "space_blind": blind,
            **options.as_dict(),
            **({"compat": compat} if compat else {}),
        },
    )


def _unchanged(text: str) -> str:
    return text


# The eval stage passes these sample columns (one value per sample, as keywords) to a metric
# that names them here: OCRBench's rule depends on each sample's source dataset.
ocrbench_accuracy.sample_fields = ("doc_class",)  # type: ignore[attr-defined]
