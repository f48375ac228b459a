"""Document classification by keywords: which document type do these pages show?

The ``doc-classification`` task gives all the pages of one document and a list of labels in
the prompt ("... одним словом из списка: invoice, tin_new, passport, ..."). An OCR engine
cannot "understand" a page, so the baseline does what a clerk skimming a stack would do: it
looks for the words that name each document type («ПАСПОРТ», «СНИЛС», «Страховое
свидетельство», "Invoice", «ИНН», «Договор займа», ...) on every page and answers the label
with the most evidence. It is a baseline, not a model: the keyword lists are public here so
that its score says exactly what keyword matching achieves.

Matching tolerates OCR misreads: long keywords are compared fuzzily on the page text with
spacing and punctuation removed; short ones (≤ 4 letters, such as «ИНН») must be a whole
word, since as a substring they occur inside ordinary words (д-л-**инн**-ый).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from vlmhb_ocr_adapter.layout import Row, page_text

#: Keywords per v0.1 label, each with a weight: a document's own name (its title) counts more
#: than a word that other documents print too. A label not listed here is looked for by its
#: own words (``interest_free_loan_agreement`` -> "interest free loan agreement").
KEYWORDS: dict[str, tuple[tuple[str, float], ...]] = {
    "passport": (
        ("паспорт гражданина", 3.0),
        ("паспорт", 2.0),
        ("passport", 2.0),
        ("код подразделения", 1.0),
        ("личные данные", 1.0),
        ("место жительства", 1.0),
        ("семейное положение", 1.0),
        ("серия и номер", 0.5),
    ),
    "snils": (
        ("снилс", 3.0),
        ("страховое свидетельство", 3.0),
        ("пенсионного страхования", 2.0),
        ("застрахованного лица", 2.0),
    ),
    "invoice": (
        ("invoice", 3.0),
        ("счет-фактура", 3.0),
        ("счет на оплату", 3.0),
        ("счет", 2.0),
        ("seller", 1.0),
        ("buyer", 1.0),
        ("продавец", 1.0),
        ("покупатель", 1.0),
        ("total", 0.5),
        ("итого", 0.5),
    ),
    "tin_new": (
        ("инн", 2.0),
        ("уведомление о постановке на учет", 2.0),
        ("идентификационный номер налогоплательщика", 1.0),
    ),
    "tin_old": (
        ("инн", 2.0),
        ("свидетельство о постановке на учет", 2.0),
        ("на территории российской федерации", 1.0),
    ),
    "interest_free_loan_agreement": (
        ("договор беспроцентного займа", 3.0),
        ("беспроцентн", 3.0),
        ("договор займа", 2.0),
        ("займодавец", 1.5),
        ("заимодавец", 1.5),
        ("заемщик", 1.5),
    ),
}
#: Known labels a prompt must list (at least two of them, or three list items) to be read as
#: a classification request.
_LIST = re.compile(r"[A-Za-z][\w-]*(?:\s*,\s*[A-Za-z][\w-]*)+")
#: Fuzzy threshold for long keywords: tolerates about one misread letter in six.
FUZZY_THRESHOLD = 85.0
_SHORT = 4


def _normalise(text: str) -> str:
    return "".join(ch for ch in text.lower().replace("ё", "е") if ch.isalnum())


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"\W+", text.lower().replace("ё", "е")) if w}


def labels_in_prompt(prompt: str) -> list[str]:
    """The labels a prompt offers: the longest comma-separated list of identifiers in it.

    Returns ``[]`` when the prompt holds no such list, or when fewer than two of its items
    are known labels (``KEYWORDS``) and it has fewer than three items (a phrase like "name,
    date" is no label list).
    """
    best: list[str] = []
    for match in _LIST.finditer(prompt):
        items = [item.strip() for item in match.group().split(",")]
        if len(items) > len(best):
            best = items
    known = [item for item in best if item in KEYWORDS]
    if len(known) >= 2 or (len(best) >= 3 and any("_" in item for item in best)):
        return best
    return []


def _keywords(label: str) -> tuple[tuple[str, float], ...]:
    return KEYWORDS.get(label) or ((label.replace("_", " ").replace("-", " "), 2.0),)


def _hit(keyword: str, normalised: str, words: set[str]) -> bool:
    wanted = _normalise(keyword)
    if not wanted:
        return False
    if len(wanted) <= _SHORT:
        return wanted in words
    if wanted in normalised:
        return True
    return len(normalised) >= len(wanted) - 1 and (
        fuzz.partial_ratio(wanted, normalised, score_cutoff=FUZZY_THRESHOLD) > 0
    )


def label_scores(pages: Sequence[list[Row]], labels: Sequence[str]) -> dict[str, float]:
    """Each label's evidence: the weights of its keywords found, summed over the pages."""
    scores = dict.fromkeys(labels, 0.0)
    for rows in pages:
        text = page_text(rows)
        normalised, words = _normalise(text), _words(text)
        for label in labels:
            scores[label] += sum(
                weight for keyword, weight in _keywords(label) if _hit(keyword, normalised, words)
            )
    return scores


def classify(pages: Sequence[list[Row]], labels: Sequence[str]) -> str:
    """The label with the most keyword evidence, or ``""`` when no keyword was found.

    Ties go to the label listed first in the prompt. No evidence gives an empty answer
    rather than a guess, so a blank or unreadable packet is scored as what it is.
    """
    if not labels:
        raise ValueError("classify: the prompt lists no labels")
    scores = label_scores(pages, labels)
    best = max(labels, key=lambda label: scores[label])  # max keeps the first of equals
    return best if scores[best] > 0 else ""
