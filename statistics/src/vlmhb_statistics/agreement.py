"""How often two runs give the same answer: backend parity (same model, two engines).

Metric deltas can hide disagreement (two backends can both score 0.8 on different samples),
so parity is checked on the answers themselves: the exact match rate, and the rate after a
normalisation that ignores differences no reader cares about (Unicode form, case, ``ё``/``е``,
punctuation, whitespace runs), in the same order as ``vlmhb-text-metrics`` applies them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass

from ._inputs import pair_by_id

_WHITESPACE = re.compile(r"\s+")
_YO = str.maketrans({"ё": "е", "Ё": "Е"})


def normalize_answer(text: str) -> str:
    """NFKC, lower case, ``ё`` -> ``е``, drop Unicode punctuation (``P*``), collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_YO)
    text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    return _WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Agreement:
    """Answer agreement between runs A and B over ``n_samples`` paired samples.

    ``differing`` lists the samples (ids, or positions as strings for sequences) whose
    answers differ even after normalisation, so a parity report can show examples.
    """

    n_samples: int
    exact_matches: int
    normalized_matches: int
    differing: tuple[str, ...]

    @property
    def exact(self) -> float:
        return self.exact_matches / self.n_samples

    @property
    def normalized(self) -> float:
        return self.normalized_matches / self.n_samples

    def to_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "differing": list(self.differing),
            "exact": self.exact,
            "normalized": self.normalized,
        }


def _check_answer(value: object, side: str, sample: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(
        f"answer_agreement: {side} answer for sample {sample} is {type(value).__name__}, "
        "expected a string (or None for no answer)"
    )


def answer_agreement(
    a: Sequence[str | None] | Mapping[str, str | None],
    b: Sequence[str | None] | Mapping[str, str | None],
) -> Agreement:
    """Exact and normalised answer agreement of two runs on the same samples.

    ``a`` / ``b`` are aligned sequences of answers or mappings ``sample id -> answer`` paired
    on ids (a sample in one run only is an error naming it). ``None`` means the run gave no
    answer (a failed request); it never agrees with anything, not even another ``None``,
    because two failures are not the same answer.
    """
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        pairing = pair_by_id(a, b)
        ids, left, right = pairing.ids, pairing.a, pairing.b
        labels = [repr(i) for i in ids]
    elif isinstance(a, Mapping) or isinstance(b, Mapping):
        raise TypeError("answer_agreement: pass two mappings (by sample id) or two sequences")
    else:
        for name, side in (("a", a), ("b", b)):
            if isinstance(side, str):
                raise TypeError(f"answer_agreement: {name} is one string, expected one per sample")
        left, right = list(a), list(b)
        if len(left) != len(right):
            raise ValueError(
                f"answer_agreement: a has {len(left)} answers and b has {len(right)}; "
                "they must be the same samples in the same order (or pass mappings by id)"
            )
        if not left:
            raise ValueError("answer_agreement: no samples")
        ids = tuple(str(i) for i in range(len(left)))
        labels = [f"at position {i}" for i in ids]
    exact = normalized = 0
    differing: list[str] = []
    for sample, label, x, y in zip(ids, labels, left, right, strict=True):
        x = _check_answer(x, "a", label)
        y = _check_answer(y, "b", label)
        if x is None or y is None:
            differing.append(sample)
            continue
        if x == y:
            exact += 1
            normalized += 1
        elif normalize_answer(x) == normalize_answer(y):
            normalized += 1
        else:
            differing.append(sample)
    return Agreement(
        n_samples=len(ids),
        exact_matches=exact,
        normalized_matches=normalized,
        differing=tuple(differing),
    )


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters' labels on the same items: agreement beyond chance.

    ``(p_o - p_e) / (1 - p_e)``, ``p_o`` the share of items with the same label and ``p_e``
    the agreement two raters with these label frequencies would reach by chance. Two judges
    who both say "correct" 95% of the time agree 90% by chance alone, which raw agreement
    hides. 1.0 when both give one and the same label to every item (no chance to correct).
    """
    if isinstance(a, str) or isinstance(b, str):
        raise TypeError("cohen_kappa: expected one label per item, not one string")
    left, right = list(a), list(b)
    if len(left) != len(right):
        raise ValueError(
            f"cohen_kappa: a has {len(left)} labels and b has {len(right)}; "
            "they must label the same items in the same order"
        )
    if not left:
        raise ValueError("cohen_kappa: no items")
    n = len(left)
    observed = sum(x == y for x, y in zip(left, right, strict=True)) / n
    count_a, count_b = Counter(left), Counter(right)
    expected = sum(count_a[label] * count_b.get(label, 0) for label in count_a) / (n * n)
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)
