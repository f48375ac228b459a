"""From recognised rows to an answer: the page's text, one field's value, or a JSON object.

This is what makes an OCR engine usable as a baseline on the same prompts as a VLM. It is
deliberately simple and documented: a label is matched fuzzily (OCR misreads letters) on a
row; its value is what follows on that row up to a column gap or the next ``Label:``, or,
when nothing follows, the row below.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from vlmhb_ocr_adapter.classification import classify, labels_in_prompt
from vlmhb_ocr_adapter.layout import Row, Word, page_text
from vlmhb_ocr_adapter.markdown import asks_for_markdown, page_markdown
from vlmhb_ocr_adapter.page_order import is_page_order_format, page_order_answer

_RU_ASK = (
    r"напиши(?:те)?|укажи(?:те)?|выпиши(?:те)?|извлеки(?:те)?|найди(?:те)?|назови(?:те)?|"
    r"приведи(?:те)?|верни(?:те)?|какой|какая|какое|какие|каков|какова|каково|чему\s+равн[оаы]"
)
_EN_ASK = r"what\s+is|what's|write|extract|find|give(?:\s+me)?|return|tell\s+me"
_FIELD_QUESTIONS = [
    re.compile(
        rf"^(?:пожалуйста,?\s+)?(?:{_RU_ASK})\s+(?:значение\s+)?(?:пол[ея]\s+)?(?P<label>.+)$",
        re.IGNORECASE,
    ),
    re.compile(
        rf"^(?:please,?\s+)?(?:{_EN_ASK})\s+(?:the\s+)?(?:value\s+of\s+(?:the\s+)?)?"
        rf"(?:field\s+)?(?P<label>.+)$",
        re.IGNORECASE,
    ),
]
#: Words that mean "the whole page", not a field: such a question gets the plain text.
_WHOLE_PAGE = re.compile(
    r"\b(?:text|document|page|image|picture|everything|all)\b|"
    r"текст|документ|страниц|изображени|картинк|всё|все\b",
    re.IGNORECASE,
)
#: Trailing "on the page" phrases, matched on whole words from the end (no regex over the
#: prompt: a pattern such as ``\s*(...)?\s*[?.]*\s*$`` backtracks cubically on long runs of
#: spaces, and one 410-byte prompt froze the server for 9.5 s).
_EN_WHERE = ({"on", "in", "from"}, {"the", "this"})
_RU_WHERE = {"в", "на", "из"}
_RU_PLACES = {"документе", "изображении", "странице"}
_END_PUNCT = "?.!:;,"
_WORD = re.compile(r"\w+")
#: A question line longer than this is not a field question; it is not searched for a label.
MAX_QUESTION_CHARS = 1000
_QUOTES = "«»\"'`“”„"
_LEADING_PUNCT = ":-–—=|.,;"


def _normalise(text: str) -> tuple[str, list[int]]:
    """Lowercase letters and digits only (OCR spacing is unreliable), with source offsets."""
    chars, offsets = [], []
    for i, char in enumerate(text.lower().replace("ё", "е")):
        if char.isalnum():
            chars.append(char)
            offsets.append(i)
    return "".join(chars), offsets


_QUOTED = re.compile(r"«([^»]+)»|“([^”]+)”|\"([^\"]+)\"")


def clean_label(label: str) -> str:
    """A quoted part names the field exactly; otherwise trailing "on the page"/"?" go."""
    quoted = _QUOTED.search(label)
    if quoted:
        return next(group for group in quoted.groups() if group).strip()
    return _strip_trailing(label).strip().strip(_QUOTES).strip()


def _strip_trailing(label: str) -> str:
    """Drop trailing punctuation and one trailing "on the page" phrase, in linear time."""
    text = label.rstrip().rstrip(_END_PUNCT + " \t\r\n\f\v")
    for count in (3, 2):
        parts = text.rsplit(None, count)
        if len(parts) < count:
            continue
        head, words = ("", parts) if len(parts) == count else (parts[0], parts[1:])
        lowered = [word.lower() for word in words]
        if count == 3:
            english = (
                lowered[0] in _EN_WHERE[0]
                and lowered[1] in _EN_WHERE[1]
                and _WORD.fullmatch(words[2]) is not None
            )
            russian = (
                lowered[0] in _RU_WHERE
                and lowered[1] == "этом"
                and _WORD.fullmatch(words[2]) is not None
            )
            if english or russian:
                return head.rstrip()
        elif lowered[0] in _RU_WHERE and lowered[1] in _RU_PLACES:
            return head.rstrip()
    return text


def field_in_prompt(prompt: str, rows: list[Row]) -> str | None:
    """The label a prompt asks about, or None when it asks for the page's text.

    A label printed on the page and named in the prompt wins (the longest such label), so
    tuned prompts such as «Какая фамилия указана в паспорте? Ответь только фамилией.» find
    «Фамилия:» too; otherwise the question form («Напиши X», "What is X?") names the label.
    """
    wanted, _ = _normalise(prompt)
    mentioned = [
        label
        for label in page_labels(rows)
        if len(_normalise(label)[0]) >= 3 and _normalise(label)[0] in wanted
    ]
    if mentioned:
        return max(mentioned, key=lambda label: len(_normalise(label)[0]))
    lines = [line.strip() for line in prompt.splitlines() if line.strip()]
    for line in reversed([line for line in lines if len(line) <= MAX_QUESTION_CHARS]):
        for pattern in _FIELD_QUESTIONS:
            match = pattern.match(line)
            if match:
                label = clean_label(match.group("label"))
                if label and not _WHOLE_PAGE.search(label):
                    return label
                return None
    return None


def page_labels(rows: list[Row], max_words: int = 4) -> list[str]:
    """Candidate labels: the 1..max_words words ending in a word that ends with a colon."""
    labels = []
    for row in rows:
        texts = [word.text for word in row.words]
        for end, text in enumerate(texts):
            if text.endswith(":") and len(text) > 1:
                for start in range(max(0, end - max_words + 1), end + 1):
                    labels.append(" ".join(texts[start : end + 1])[:-1])
    return labels


@dataclass(frozen=True)
class _Match:
    score: float
    at_row_start: bool
    row: int
    word: int  # index of the word holding the label's last character
    rest: str  # what follows the label inside that word ("Фамилия:Иванов" -> "Иванов")


def _cut(words: list[Word]) -> list[Word]:
    """Stop a value at a column gap or at the next ``Label:``."""
    kept: list[Word] = []
    for word in words:
        if kept:
            gap = word.left - (kept[-1].left + kept[-1].width)
            if gap > 2 * max(kept[-1].height, word.height):
                break
            if word.text.endswith(":") and not any(ch.isdigit() for ch in word.text):
                break
        kept.append(word)
    return kept


def _best_match(rows: list[Row], label: str) -> _Match | None:
    wanted, _ = _normalise(label)
    if not wanted:
        return None
    threshold = 90 if len(wanted) <= 4 else 80
    best: _Match | None = None
    for r, row in enumerate(rows):
        text = row.text
        chars, offsets = _normalise(text)
        if len(chars) < len(wanted) - 1:
            continue
        alignment = fuzz.partial_ratio_alignment(wanted, chars)
        if alignment.score < threshold:
            continue
        end = offsets[alignment.dest_end - 1]  # offset of the label's last character
        starts = []
        position = 0
        for word in row.words:
            starts.append(position)
            position += len(word.text) + 1
        w = max(i for i, start in enumerate(starts) if start <= end)
        rest = row.words[w].text[end - starts[w] + 1 :]
        match = _Match(alignment.score, alignment.dest_start == 0, r, w, rest)
        if best is None or (match.score, match.at_row_start) > (best.score, best.at_row_start):
            best = match
    return best


def find_value(rows: list[Row], label: str) -> str | None:
    """The value next to ``label`` on the page, or None when the label is not there."""
    match = _best_match(rows, label)
    if match is None:
        return None
    row = rows[match.row]
    rest = match.rest.lstrip(_LEADING_PUNCT + " ")
    words = _cut(list(row.words[match.word + 1 :]))
    value = " ".join(([rest] if rest else []) + [w.text for w in words]).strip(_LEADING_PUNCT + " ")
    if value or match.row + 1 >= len(rows):
        return value
    below = rows[match.row + 1]
    label_left = row.words[0].left if match.at_row_start else row.words[match.word].left
    under = [w for w in below.words if w.left + w.width > label_left]
    return " ".join(w.text for w in _cut(under)).strip(_LEADING_PUNCT + " ")


def _typed(value: str | None, schema: dict[str, Any]) -> Any:
    kinds = schema.get("type", "string")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if value is None or value == "":
        return "" if "string" in kinds and "null" not in kinds else None
    if "integer" in kinds or "number" in kinds:
        number = re.search(r"-?\d+(?:[.,]\d+)?", value.replace(" ", ""))
        if number:
            text = number.group().replace(",", ".")
            return int(float(text)) if "integer" in kinds and "number" not in kinds else float(text)
    if "array" in kinds:
        return [value]
    return value


def _labels(name: str, schema: dict[str, Any]) -> list[str]:
    labels = [schema.get("title"), schema.get("description"), name, name.replace("_", " ")]
    return [label for label in labels if isinstance(label, str) and label.strip()]


def extract_schema(rows: list[Row], schema: dict[str, Any]) -> dict[str, Any]:
    """Each property of a JSON Schema object, found by its title, description or name."""
    answer: dict[str, Any] = {}
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):  # the wrapper refuses this; a direct caller may not
        raise ValueError(
            f"json_schema.schema.properties: expected an object, got {type(properties).__name__}"
        )
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        found = None
        best_score = -1.0
        for label in _labels(name, prop):
            match = _best_match(rows, label)
            if match is not None and match.score > best_score:
                best_score, found = match.score, find_value(rows, label)
        answer[name] = _typed(found, prop)
    return answer


def extract_pairs(rows: list[Row]) -> dict[str, str]:
    """Every ``Label: value`` row of the page, for ``response_format: json_object``."""
    pairs: dict[str, str] = {}
    for row in rows:
        label, sep, value = row.text.partition(":")
        if sep and label.strip() and label.strip() not in pairs:
            pairs[label.strip()] = value.strip()
    return pairs


def answer_pages(
    prompt: str, pages: list[list[Row]], response_format: dict[str, Any] | None
) -> str:
    """What the OCR baseline replies to ``prompt`` about the request's images, page by page.

    Two multi-page tasks are recognised from the request itself, not from a task name (the
    wrapper never sees one): a JSON schema with an ``order`` property asks for the pages'
    order (:mod:`~vlmhb_ocr_adapter.page_order`); a prompt listing labels ("... из списка:
    invoice, passport, snils") asks for one document type
    (:mod:`~vlmhb_ocr_adapter.classification`); a plain-text prompt that asks for Markdown
    gets each page as Markdown (:mod:`~vlmhb_ocr_adapter.markdown`, the ``doc-parsing``
    task). Anything else is answered by :func:`answer` over the rows of all the pages in turn.
    """
    if is_page_order_format(response_format):
        return page_order_answer(pages)
    kind = (response_format or {}).get("type", "text")
    if kind == "text":
        labels = labels_in_prompt(prompt)
        if labels:
            return classify(pages, labels)
        if asks_for_markdown(prompt):
            return "\n\n".join(filter(None, (page_markdown(rows) for rows in pages)))
    return answer(prompt, [row for rows in pages for row in rows], response_format)


def answer(prompt: str, rows: list[Row], response_format: dict[str, Any] | None) -> str:
    """What the OCR baseline replies to ``prompt`` about a page read as ``rows``."""
    kind = (response_format or {}).get("type", "text")
    if kind == "json_schema":
        schema = response_format["json_schema"]["schema"]  # type: ignore[index]
        return json.dumps(extract_schema(rows, schema), ensure_ascii=False)
    if kind == "json_object":
        return json.dumps(extract_pairs(rows), ensure_ascii=False)
    label = field_in_prompt(prompt, rows)
    if label is None:
        return page_text(rows)
    return find_value(rows, label) or ""
