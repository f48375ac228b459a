"""Reading per-sample telemetry records: numbers checked once, gaps made explicit.

A record is a mapping with any of: ``latency_s``, ``server_latency_s``, ``prompt_tokens``,
``completion_tokens``, ``peak_vram_mb``, ``peak_ram_mb``, ``started_at`` and ``finished_at``
(epoch seconds, or ISO 8601 text). A missing key or ``None`` is a gap (a failed request has
no latency), not an error; a value that is not a finite non-negative number is an error
naming the record and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def check_records(name: str, records: Any) -> Sequence[Mapping[str, Any]]:
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence):
        raise ValueError(
            f"{name}: expected a list of telemetry records (dicts), one per sample; "
            f"got {type(records).__name__}"
        )
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(
                f"{name}: record {i} is {type(record).__name__}; expected a dict of telemetry"
            )
    return records


def number(name: str, record: Mapping[str, Any], index: int, key: str) -> float | None:
    """The record's value for ``key`` as a float, or None when absent."""
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"{name}: record {index} field {key!r} is {value!r}; expected a number or null"
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{name}: record {index} field {key!r} is {value!r}; expected a finite number >= 0"
        )
    return value


def timestamp(name: str, record: Mapping[str, Any], index: int, key: str) -> float | None:
    """Epoch seconds from a number or an ISO 8601 string, or None when absent."""
    value = record.get(key)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            raise ValueError(
                f"{name}: record {index} field {key!r} is {value!r}; expected epoch seconds "
                "or an ISO 8601 timestamp"
            ) from None
    return number(name, record, index, key)


def uncached(
    name: str, records: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], int]:
    """The records with those answered from a cache (``"cached": true``) made gaps, and
    how many they were.

    A cached answer (a page the OCR engine read for an earlier question or run) costs the
    model nothing: counted, it would report the cache's speed as the model's."""
    kept: list[Mapping[str, Any]] = []
    cached = 0
    for index, record in enumerate(records):
        flag = record.get("cached")
        if flag is not None and not isinstance(flag, bool):
            raise ValueError(
                f"{name}: record {index} field 'cached' is {flag!r}; expected true or false"
            )
        cached += bool(flag)
        kept.append({} if flag else record)
    return kept, cached


def column(name: str, records: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    return [number(name, r, i, key) for i, r in enumerate(records)]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, Hyndman-Fan type 7)."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def wall_clock(name: str, records: Sequence[Mapping[str, Any]]) -> tuple[float, int]:
    """(seconds from the first start to the last finish, number of records with both).

    This is what samples/s must divide by when requests overlap (a batch, a concurrent
    client): summing latencies would undercount throughput. Records without both
    timestamps (a request that failed before it was sent) are left out.
    """
    starts, ends = [], []
    for i, record in enumerate(records):
        start = timestamp(name, record, i, "started_at")
        end = timestamp(name, record, i, "finished_at")
        if start is None or end is None:
            continue
        if end < start:
            raise ValueError(
                f"{name}: record {i} finished_at ({end}) is before started_at ({start})"
            )
        starts.append(start)
        ends.append(end)
    if not starts:
        return 0.0, 0
    return max(ends) - min(starts), len(starts)
