"""Latency, throughput, tokens/s and peak memory from per-sample telemetry records.

Called as ``metric(records, references=None, **params)``: the first argument holds one
telemetry record per sample (the core passes ``(telemetry, None)`` for metrics whose
registry entry says ``inputs: telemetry``); references are accepted and ignored.

Version 2 of latency, throughput and tokens/s leaves out answers served from a cache
(``"cached": true``): they measure the cache, not the model (``details["cached"]`` counts them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._result import MetricResult, metric
from .telemetry import check_records, column, percentile, uncached, wall_clock

_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?)")
LATENCY_FIELDS = ("latency_s", "server_latency_s")
TOKEN_KINDS = ("completion", "prompt", "total")
MEMORY_KINDS = {"vram": "peak_vram_mb", "ram": "peak_ram_mb"}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _nan_if_none(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _latency_stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean": _mean(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "min": ordered[0] if ordered else math.nan,
        "max": ordered[-1] if ordered else math.nan,
    }


@metric("latency", "2")
def latency(
    records: Sequence[Mapping[str, Any]],
    references: Any = None,
    *,
    stat: str = "mean",
    field: str = "latency_s",
) -> MetricResult:
    """Latency in seconds: ``stat`` is ``mean``, ``min``, ``max`` or a percentile ``pNN``
    (``p50``, ``p90``, ``p99``...); details carry mean, p50, p90, p99, min and max.

    field: ``latency_s`` (client side, request to response) or ``server_latency_s``.
    """
    check_records("latency", records)
    if field not in LATENCY_FIELDS:
        raise ValueError(f"latency: field must be one of {', '.join(LATENCY_FIELDS)}")
    records, cached = uncached("latency", records)
    raw = column("latency", records, field)
    present = [v for v in raw if v is not None]
    stats = _latency_stats(present)
    match = _PERCENTILE.fullmatch(stat)
    if stat in ("mean", "min", "max"):
        value = stats[stat]
    elif match is not None:
        value = percentile(sorted(present), float(match.group(1)))
    else:
        raise ValueError(f"latency: stat must be mean, min, max or pNN (e.g. p90), got {stat!r}")
    return MetricResult(
        "latency",
        "2",
        value,
        _nan_if_none(raw),
        {
            **stats,
            "stat": stat,
            "field": field,
            "count": len(present),
            "cached": cached,
            "missing": len(raw) - len(present) - cached,
        },
    )


def _elapsed(
    name: str, records: Sequence[Mapping[str, Any]], latencies: list[float]
) -> tuple[float, str]:
    """Wall clock when every timed sample has timestamps, else the sum of latencies."""
    wall, stamped = wall_clock(name, records)
    if stamped >= len(latencies) and wall > 0:
        return wall, "wall_clock"
    return sum(latencies), "sum_of_latencies"


@metric("throughput", "2")
def throughput(records: Sequence[Mapping[str, Any]], references: Any = None) -> MetricResult:
    """Samples per second: answered samples / elapsed time.

    Elapsed time is the wall clock from the first ``started_at`` to the last ``finished_at``
    when every record has both (right for concurrent requests), else the sum of latencies
    (right for one request at a time). per_sample: 1 / latency.
    """
    check_records("throughput", records)
    records, cached = uncached("throughput", records)
    raw = column("throughput", records, "latency_s")
    present = [v for v in raw if v is not None]
    elapsed, method = _elapsed("throughput", records, present)
    value = len(present) / elapsed if elapsed > 0 else math.nan
    per_sample = [math.nan if not v else 1.0 / v for v in raw]
    return MetricResult(
        "throughput",
        "2",
        value,
        per_sample,
        {
            "samples": len(present),
            "elapsed_s": elapsed,
            "method": method,
            "cached": cached,
            "missing": len(raw) - len(present) - cached,
        },
    )


@metric("tokens_per_second", "2")
def tokens_per_second(
    records: Sequence[Mapping[str, Any]], references: Any = None, *, tokens: str = "completion"
) -> MetricResult:
    """Tokens per second over the run: total tokens / elapsed time (as in ``throughput``).

    tokens: ``completion`` (generated; the usual decode speed), ``prompt`` or ``total``.
    per_sample: the sample's tokens / its latency; ``details["mean_per_sample"]`` their mean.
    """
    name = "tokens_per_second"
    check_records(name, records)
    records, cached = uncached(name, records)
    if tokens not in TOKEN_KINDS:
        raise ValueError(f"{name}: tokens must be one of {', '.join(TOKEN_KINDS)}")
    latencies = column(name, records, "latency_s")
    prompt = column(name, records, "prompt_tokens")
    completion = column(name, records, "completion_tokens")
    counts: list[float | None] = []
    for p, c in zip(prompt, completion, strict=True):
        if tokens == "completion":
            counts.append(c)
        elif tokens == "prompt":
            counts.append(p)
        else:
            counts.append(None if p is None or c is None else p + c)
    timed = [
        (n, t) for n, t in zip(counts, latencies, strict=True) if n is not None and t is not None
    ]
    elapsed, method = _elapsed(name, records, [t for _, t in timed])
    total = sum(n for n, _ in timed)
    per_sample = [
        n / t if n is not None and t else math.nan for n, t in zip(counts, latencies, strict=True)
    ]
    finite = [v for v in per_sample if not math.isnan(v)]
    return MetricResult(
        name,
        "2",
        total / elapsed if elapsed > 0 else math.nan,
        per_sample,
        {
            "tokens": tokens,
            "total_tokens": total,
            "elapsed_s": elapsed,
            "method": method,
            "mean_per_sample": _mean(finite),
            "cached": cached,
            "missing": len(records) - len(timed) - cached,
        },
    )


@metric("peak_memory", "1")
def peak_memory(
    records: Sequence[Mapping[str, Any]], references: Any = None, *, kind: str = "vram"
) -> MetricResult:
    """Peak memory in MiB over the run: the largest per-sample peak (``peak_vram_mb`` or
    ``peak_ram_mb``). NaN when no record carries the field (e.g. no GPU monitor)."""
    check_records("peak_memory", records)
    if kind not in MEMORY_KINDS:
        raise ValueError(f"peak_memory: kind must be one of {', '.join(MEMORY_KINDS)}")
    field = MEMORY_KINDS[kind]
    raw = column("peak_memory", records, field)
    present = [v for v in raw if v is not None]
    return MetricResult(
        "peak_memory",
        "1",
        max(present) if present else math.nan,
        _nan_if_none(raw),
        {
            "kind": kind,
            "field": field,
            "unit": "MiB",
            "mean": _mean(present),
            "count": len(present),
            "missing": len(raw) - len(present),
        },
    )
