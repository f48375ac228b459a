"""Page order from printed page numbers: «Страница 2 из 4», "Page 3 of 5", "стр. 2".

The ``page-order`` task gives the shuffled pages of one document and asks for
``{"order": [...]}``, where ``order[i]`` is the 1-based input position of the document's
page ``i + 1``. The baseline reads the page number printed on each page and nothing else:

* a page whose printed number ``k`` is in ``1..n`` (``n`` images) and not claimed by an
  earlier image takes slot ``k``;
* every other page (no number, a number out of range, a duplicate) fills the free slots in
  its input order, except for two generic continuation cues that any reader uses: a page
  marked "(continued)"/«(продолжение)» comes after the unmarked ones, and a page whose
  numbered list starts at item 6 comes after one whose list starts at item 1 (a page with
  no list counts as starting at 0). With no cue at all this is the input order itself; with
  numbers on all pages it is their printed order; in between, "the numbered pages first,
  then the rest" whenever the numbers are 1..m.

When a page shows several candidates (a "Page 2 of 4" footer and a "стр. 5" reference in the
text), the one with "of n"/«из n» wins, then the lowest on the page (footers are at the bottom).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from vlmhb_ocr_adapter.layout import Row

#: "<page word> k [of|из|/ n]"; OCR may drop the dot or glue the words, hence ``\s*``.
_NUMBERED = re.compile(
    r"(?:\b(?:страница|стр\.?|page|pg\.?|p\.)\s*(?P<k>\d{1,4})"
    r"(?:\s*(?:из|of|/)\s*(?P<n>\d{1,4}))?)"
    r"|(?:(?<![\d.,])(?P<k2>\d{1,4})\s*(?:из|of)\s*(?P<n2>\d{1,4})(?![\d.,]))",
    re.IGNORECASE,
)

#: A continuation mark, in a title or a footer.
_CONTINUED = re.compile(r"\b(?:continued|cont\.|продолжение|продолж\.)", re.IGNORECASE)
#: A numbered list item at the start of a row: "5. Paper", "6) Место рождения".
_ITEM = re.compile(r"^\s*(\d{1,4})[.)]\s+\S")


def is_page_order_format(response_format: dict[str, Any] | None) -> bool:
    """Whether the request asks for ``{"order": [...]}``: its JSON schema has an "order"."""
    if not response_format or response_format.get("type") != "json_schema":
        return False
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return isinstance(properties, dict) and "order" in properties


def printed_page_number(rows: list[Row]) -> int | None:
    """The page number printed on a page read as ``rows``, or None when there is none."""
    best: tuple[bool, int, int] | None = None  # (has "of n", row index, number)
    for index, row in enumerate(rows):
        for match in _NUMBERED.finditer(row.text):
            number = match.group("k") or match.group("k2")
            of_n = (match.group("n") or match.group("n2")) is not None
            candidate = (of_n, index, int(number))
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    return best[2] if best is not None else None


def continuation_key(rows: list[Row]) -> tuple[bool, int]:
    """How far into a document an unnumbered page looks: (marked continued, first list item)."""
    continued = any(_CONTINUED.search(row.text) for row in rows)
    for row in rows:
        item = _ITEM.match(row.text)
        if item:
            return continued, int(item.group(1))
    return continued, 0


def order_pages(
    numbers: Sequence[int | None], cues: Sequence[tuple[bool, int]] | None = None
) -> list[int]:
    """``order[i]``: the input position (from 1) of page ``i + 1``, by printed numbers.

    ``cues`` (one :func:`continuation_key` per page) order the pages without a usable
    number among themselves; without cues, or with equal ones, they keep their input order.
    """
    total = len(numbers)
    if cues is not None and len(cues) != total:
        raise ValueError(f"cues: expected {total} (one per page), got {len(cues)}")
    slots: list[int | None] = [None] * total
    rest: list[int] = []
    for position, number in enumerate(numbers, start=1):
        if number is not None and 1 <= number <= total and slots[number - 1] is None:
            slots[number - 1] = position
        else:
            rest.append(position)
    if cues is not None:
        rest.sort(key=lambda position: cues[position - 1])  # stable: ties keep input order
    free = iter(rest)
    return [slot if slot is not None else next(free) for slot in slots]


def page_order_answer(pages: Sequence[list[Row]]) -> str:
    """The JSON answer ``{"order": [...]}`` for pages read as ``pages`` (input order)."""
    numbers = [printed_page_number(rows) for rows in pages]
    order = order_pages(numbers, [continuation_key(rows) for rows in pages])
    return json.dumps({"order": order})
