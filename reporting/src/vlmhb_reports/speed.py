"""A run's speed figures, defined once, and the rule that says when not to trust them.

The figures are vlmhb-resource-metrics' (the very functions the eval stage scores
``latency_p50`` and ``throughput`` with), over the run's answers: answers served from the
model server's cache (``"cached": true``) are left out, so a cache's speed is never reported as
the model's. With them comes what the machine was doing (the infer stage's
``telemetry.json``): the peak 1-minute load average per CPU and how many models of the
experiment ran inference at the same time.

A speed figure is flagged (``speed_note``) when it should not be compared with another:

- ``busy machine``: the peak load per CPU during the inference exceeded 1.0, i.e. more
  processes wanted a CPU than there were CPUs (other runs, other users);
- ``parallel models``: other models of the experiment ran inference at the same time;
- ``few samples``: fewer than 6 timed (uncached) answers, too few for a 95% interval of
  the median latency;
- ``wide spread``: the distribution-free 95% confidence interval of the median latency (order
  statistics of the binomial, no assumption on the latencies' shape) is wider than half the
  median itself: the median could move by that much with other samples.

Otherwise the note is ``ok``. Answers left out for the cache are named in the note either way.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from vlmhb_resource_metrics import latency, throughput, tokens_per_second

MIN_TIMED = 6
"""Below this many timed answers, the median has no 95% order-statistic interval."""
MAX_RELATIVE_SPREAD = 0.5
"""Widest 95% interval of the median latency, relative to the median, that is still ``ok``."""
MAX_LOAD_PER_CPU = 1.0
"""Above this peak load average per CPU, the run shared its CPUs with other work."""


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def speed_figures(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Latency p50/p90 (s), samples/s and output tokens/s of the answers, cached ones left
    out; ``cached_answers`` counts those, ``latencies`` lists the timed ones (sorted)."""
    p50 = latency(records, stat="p50")
    p90 = latency(records, stat="p90")
    samples = throughput(records)
    tokens = tokens_per_second(records)
    timed = sorted(v for v in p50.per_sample if not math.isnan(v))
    rate, token_rate = _number(samples.value), _number(tokens.value)
    return {
        "latency_p50_s": None if not timed else round(p50.value, 4),
        "latency_p90_s": None if not timed else round(p90.value, 4),
        "samples_per_s": None if rate is None or rate == 0 else round(rate, 3),
        "output_tokens_per_s": None if not token_rate else round(token_rate, 1),
        "cached_answers": p50.details["cached"],
        "latencies": timed,
    }


def median_interval(ordered: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval of the median: the order statistics ``x(k)``, ``x(n+1-k)``
    with the largest ``k`` such that ``P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2``.
    Needs ``len(ordered) >= MIN_TIMED`` (for 95%)."""
    n = len(ordered)
    tail = (1.0 - confidence) / 2.0
    if n > 200:  # the normal approximation of the binomial: exact sums grow slow with n
        z = statistics.NormalDist().inv_cdf(1.0 - tail)
        k = max(1, math.floor((n - z * math.sqrt(n)) / 2.0))
        return ordered[k - 1], ordered[n - k]
    k, below = 0, 0.0
    while k < n and below + math.comb(n, k) / 2**n <= tail:
        below += math.comb(n, k) / 2**n
        k += 1
    if k == 0:
        raise ValueError(f"{n} values are too few for a {confidence:.0%} interval of the median")
    return ordered[k - 1], ordered[n - k]


def speed_note(
    latencies: Sequence[float],
    cached: int,
    load_per_cpu: float | None,
    parallel_models: int | None,
) -> str | None:
    """``ok`` or why the run's speed figures are unreliable (see the module docstring);
    None when nothing was timed."""
    if not latencies and not cached:
        return None
    reasons = []
    if load_per_cpu is not None and load_per_cpu > MAX_LOAD_PER_CPU:
        reasons.append(f"busy machine (peak load {load_per_cpu:.2g} per CPU)")
    if parallel_models is not None and parallel_models > 1:
        reasons.append(f"parallel models ({parallel_models} at once)")
    if len(latencies) < MIN_TIMED:
        reasons.append(f"few samples ({len(latencies)} timed, fewer than {MIN_TIMED})")
    else:
        ordered = sorted(latencies)
        low, high = median_interval(ordered)
        median = statistics.median(ordered)
        if median > 0 and (high - low) / median > MAX_RELATIVE_SPREAD:
            reasons.append(f"wide spread (median's 95% CI {low:.3g}-{high:.3g} s)")
    note = "unreliable: " + "; ".join(reasons) if reasons else "ok"
    if cached:
        note += f"; {cached} cached answer{'s' if cached != 1 else ''} left out"
    return note
