"""Reading an order out of a model's answer, and checking a reference order.

A model answers a page-order task with text; the answer is scored only when it is a
permutation of the reference's items. Anything else (not JSON, not a list, a repeated or
missing or unknown item) is *malformed*: it scores as the worst order and is counted with its
reason, because silently skipping it would reward a model for failing to answer.

Items are compared by their text: ``3``, ``3.0`` and ``"3"`` are the same page, so a model
that quotes its numbers is not punished for it. A reference that is not a valid order is a
``ValueError`` naming the sample: that is a dataset error, not a model error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.S)


class Malformed(ValueError):
    """An answer that is not a usable order; the message is the reason recorded."""


def _item(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise Malformed(f"item {value!r} is not a page id (expected an integer or a string)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise Malformed(f"item {value!r} is not a page id (expected an integer or a string)")


def read_order(value: Any) -> list[str]:
    """An order from a list, a JSON list (``[3,1,2]``) or a JSON object ``{"order": [...]}``,
    optionally inside a Markdown code fence; raises :class:`Malformed` with the reason."""
    if isinstance(value, str):
        text = value.strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1).strip()
        if not text:
            raise Malformed("empty answer")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise Malformed(f"not JSON ({error.msg} at character {error.pos})") from None
    if isinstance(value, dict):
        if "order" not in value:
            raise Malformed(f"JSON object without an 'order' key (keys: {sorted(value)})")
        value = value["order"]
    if not isinstance(value, (list, tuple)):
        raise Malformed(f"expected a list of page ids, got {type(value).__name__}")
    items = [_item(v) for v in value]
    repeated = sorted({i for i in items if items.count(i) > 1})
    if repeated:
        raise Malformed(f"repeats {', '.join(repeated)}")
    return items


def reference_order(value: Any, index: int) -> list[str]:
    """A reference order; a bad one is the dataset's error, named by its sample index."""
    try:
        order = read_order(value)
    except Malformed as error:
        raise ValueError(f"references[{index}] is not a valid order: {error}") from None
    if not order:
        raise ValueError(f"references[{index}] is an empty order; expected at least one page")
    return order


def positions(prediction: Any, reference: list[str]) -> list[int]:
    """For each reference item in reference order, its position in the prediction.

    The identity ``[0, 1, ..., n-1]`` is a perfect answer. Raises :class:`Malformed` when the
    prediction is not a permutation of the reference's items.
    """
    order = read_order(prediction)
    where = {item: k for k, item in enumerate(order)}
    missing = [item for item in reference if item not in where]
    unknown = sorted(set(order) - set(reference))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"misses {', '.join(missing)}")
        if unknown:
            parts.append(f"has unknown {', '.join(unknown)}")
        raise Malformed(" and ".join(parts))
    return [where[item] for item in reference]


def check_pairs(predictions: Any, references: Any) -> tuple[Sequence[Any], Sequence[Any]]:
    """Both sides must be sequences (not one bare string) of the same length."""
    for role, value in (("predictions", predictions), ("references", references)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ValueError(
                f"{role} must be a list with one order per sample; got {type(value).__name__}"
            )
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references differ in length: {len(predictions)} predictions, "
            f"{len(references)} references (sample {min(len(predictions), len(references))} "
            "has no partner)"
        )
    return predictions, references
