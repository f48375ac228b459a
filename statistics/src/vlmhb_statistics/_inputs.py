"""Turning caller data into checked float vectors, and pairing two runs on sample ids.

Every statistic here silently goes wrong on a NaN, a ragged pair or a misaligned sample, so the
checks live in one place and each error names the argument and the sample (by id when the
caller gave ids, else by position) that broke it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")

#: Per-sample numbers: an aligned sequence (or 1-D array), or a mapping ``sample id -> value``.
Values = Sequence[float] | NDArray[np.floating] | NDArray[np.integer] | Mapping[str, float]

_SHOWN = 5  # how many offending ids an error message lists


@dataclass(frozen=True)
class Pairing(Generic[T]):
    """Two runs' values on the samples they share, in one order (sorted by sample id).

    ``only_in_a`` / ``only_in_b`` are the ids that had no partner; a paired statistic must
    never silently compare different sample sets, so callers report these.
    """

    ids: tuple[str, ...]
    a: tuple[T, ...]
    b: tuple[T, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]


def _list_ids(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN])
    more = len(ids) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def pair_by_id(
    a: Mapping[str, T],
    b: Mapping[str, T],
    *,
    missing: Literal["error", "drop"] = "error",
) -> Pairing[T]:
    """Align two runs' per-sample values on their sample ids.

    Paired tests are only valid on the same samples. With ``missing="error"`` (the default) a
    sample present in one run only is a ``ValueError`` naming it; with ``missing="drop"`` the
    shared samples are kept and the others are listed in the result, for the caller to print.
    """
    if missing not in ("error", "drop"):
        raise ValueError(f"missing must be 'error' or 'drop', got {missing!r}")
    for name, side in (("a", a), ("b", b)):
        if not isinstance(side, Mapping):
            raise TypeError(
                f"pair_by_id: {name} must be a mapping of sample id -> value, "
                f"got {type(side).__name__}"
            )
    only_a = tuple(sorted(set(a) - set(b)))
    only_b = tuple(sorted(set(b) - set(a)))
    if missing == "error" and (only_a or only_b):
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} sample(s) only in a: {_list_ids(only_a)}")
        if only_b:
            parts.append(f"{len(only_b)} sample(s) only in b: {_list_ids(only_b)}")
        raise ValueError(
            "paired comparison needs the same samples in both runs; "
            + "; ".join(parts)
            + " (pass missing='drop' to compare the shared samples only)"
        )
    ids = tuple(sorted(set(a) & set(b)))
    if not ids:
        raise ValueError("paired comparison: the two runs share no sample id")
    return Pairing(
        ids=ids,
        a=tuple(a[i] for i in ids),
        b=tuple(b[i] for i in ids),
        only_in_a=only_a,
        only_in_b=only_b,
    )


def as_vector(values: object, name: str, ids: Sequence[str] | None = None) -> NDArray[np.float64]:
    """A non-empty 1-D float64 array of finite numbers, or an error naming the bad sample."""
    if isinstance(values, Mapping):
        raise TypeError(f"{name}: expected a sequence here, got a mapping")
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name}: expected a sequence of numbers, got a string")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        bad = _first_non_number(values)
        where = f" at {_where(bad, ids)}" if bad is not None else ""
        raise ValueError(f"{name}: every value must be a number{where} ({error})") from None
    if array.ndim != 1:
        raise ValueError(f"{name}: expected one number per sample (1-D), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name}: no samples")
    bad_positions = np.flatnonzero(~np.isfinite(array))
    if bad_positions.size:
        first = int(bad_positions[0])
        raise ValueError(
            f"{name}: value {float(array[first])!r} at {_where(first, ids)} is not a finite number "
            f"({bad_positions.size} such sample(s))"
        )
    return array


def _first_non_number(values: object) -> int | None:
    if not isinstance(values, Sequence):
        return None
    for position, value in enumerate(values):
        try:
            float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return position
    return None


def _where(position: int, ids: Sequence[str] | None) -> str:
    if ids is not None:
        return f"sample {ids[position]!r}"
    return f"position {position}"


def single(values: Values, name: str) -> tuple[NDArray[np.float64], tuple[str, ...] | None]:
    """One run's values: a mapping is read in sorted id order so the result is reproducible."""
    if isinstance(values, Mapping):
        ids = tuple(sorted(values))
        return as_vector([values[i] for i in ids], name, ids), ids
    return as_vector(values, name), None


def paired(
    a: Values, b: Values, name_a: str = "a", name_b: str = "b"
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[str, ...] | None]:
    """Two runs' values on the same samples: mappings are paired on ids, sequences by position."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        pairing = pair_by_id(a, b)
        return (
            as_vector(pairing.a, name_a, pairing.ids),
            as_vector(pairing.b, name_b, pairing.ids),
            pairing.ids,
        )
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        raise TypeError(
            f"{name_a} and {name_b} must both be mappings of sample id -> value "
            "or both aligned sequences, not one of each"
        )
    va, vb = as_vector(a, name_a), as_vector(b, name_b)
    if va.size != vb.size:
        raise ValueError(
            f"paired samples: {name_a} has {va.size} values and {name_b} has {vb.size}; "
            "they must be the same samples in the same order (or pass mappings keyed by id)"
        )
    return va, vb, None


def check_denominators(den: NDArray[np.float64], name: str, ids: Sequence[str] | None) -> None:
    """Denominators are counts (reference characters, words): never negative, not all zero."""
    negative = np.flatnonzero(den < 0)
    if negative.size:
        first = int(negative[0])
        raise ValueError(
            f"{name}: denominator {float(den[first])!r} at {_where(first, ids)} is negative; "
            "a ratio metric's denominators are counts"
        )
    if not den.sum() > 0:
        raise ValueError(f"{name}: the denominators sum to 0, so the ratio is undefined")


def check_same_length(*named: tuple[str, NDArray[np.float64]]) -> None:
    sizes = {name: array.size for name, array in named}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name}: {size}" for name, size in sizes.items())
        raise ValueError(f"one value per sample in each of these, got different lengths ({listed})")


def check_resampling(n: int, name: str, minimum: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")


def check_probability(value: float, name: str) -> None:
    if not isinstance(value, (int, float)) or not (0.0 < float(value) < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
