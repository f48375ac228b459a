"""Input checks shared by the metrics: one clear ValueError naming the index, never a
silent zip that drops the tail of the longer list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_pairs(predictions: Any, references: Any) -> tuple[Sequence[Any], Sequence[Any]]:
    """Both sides must be sequences (not a bare string) of the same length."""
    for role, value in (("predictions", predictions), ("references", references)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ValueError(
                f"{role} must be a list of strings, one per sample; got {type(value).__name__}"
            )
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references differ in length: {len(predictions)} predictions, "
            f"{len(references)} references (sample {min(len(predictions), len(references))} "
            "has no partner)"
        )
    return predictions, references


def text_at(value: Any, role: str, index: int) -> str:
    """A prediction or reference that must be a string."""
    if isinstance(value, str):
        return value
    if value is None:
        raise ValueError(f"{role}[{index}] is None; expected a string (use '' for an empty answer)")
    raise ValueError(f"{role}[{index}] is {type(value).__name__}; expected a string")


def accepted_at(value: Any, index: int) -> list[str]:
    """A reference that may be one string or a non-empty list of accepted strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(
                f"references[{index}] is an empty list; expected at least one accepted answer"
            )
        for j, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(
                    f"references[{index}][{j}] is {type(item).__name__}; expected a string"
                )
        return list(value)
    return [text_at(value, "references", index)]


def check_variant(
    metric: str, compat: str | None, variants: tuple[str, ...], params: dict[str, Any]
) -> None:
    """``compat`` is None (ours) or one of ``variants``; a variant reproduces another tool,
    so it fixes its own normalisation and refuses the normalisation options."""
    if compat is None:
        return
    if compat not in variants:
        raise ValueError(
            f"{metric}: unknown compat {compat!r}; expected None (ours) or one of "
            f"{', '.join(variants)}"
        )
    if params:
        raise ValueError(
            f"{metric}: compat={compat!r} fixes its own normalisation; remove "
            f"{', '.join(sorted(params))} (normalisation options apply to compat=None only)"
        )
