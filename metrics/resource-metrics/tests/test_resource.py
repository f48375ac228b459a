"""Resource metrics from telemetry records: hand-worked values, properties, bad input."""

from __future__ import annotations

import math
import statistics
from importlib.metadata import entry_points

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmhb_resource_metrics import (
    METRICS,
    latency,
    peak_memory,
    percentile,
    throughput,
    tokens_per_second,
)

# Two overlapping requests (a concurrent client) and one that failed before it was sent.
RECORDS = [
    {"latency_s": 1.0, "prompt_tokens": 100, "completion_tokens": 10,
     "started_at": 100.0, "finished_at": 101.0, "peak_vram_mb": 1000, "peak_ram_mb": 300},
    {"latency_s": 2.0, "prompt_tokens": 120, "completion_tokens": 30,
     "started_at": 100.5, "finished_at": 102.5, "peak_vram_mb": 1500},
    {"latency_s": None, "prompt_tokens": None, "completion_tokens": None},
]  # fmt: skip


def test_latency_stats_by_hand():
    result = latency(RECORDS)
    assert result.value == pytest.approx(1.5)
    assert result.per_sample[:2] == [1.0, 2.0] and math.isnan(result.per_sample[2])
    assert result.details["p90"] == pytest.approx(1.9)  # 1 + 0.9 * (2 - 1)
    assert result.details["missing"] == 1
    assert latency(RECORDS, None, stat="p50").value == pytest.approx(1.5)
    assert latency(RECORDS, stat="max").value == 2.0
    assert result.key == "latency@2"


def test_percentiles_linear_interpolation():
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 90) == pytest.approx(3.7)  # position 2.7
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0


def test_throughput_uses_the_wall_clock_when_requests_overlap():
    # 2 answered samples between t=100.0 and t=102.5: 0.8 samples/s (not 2 / 3 s of latency)
    result = throughput(RECORDS)
    assert result.value == pytest.approx(0.8)
    assert result.details["method"] == "wall_clock"
    assert result.per_sample[:2] == [1.0, 0.5]


def test_throughput_falls_back_to_summed_latency_without_timestamps():
    records = [{"latency_s": 0.5}, {"latency_s": 1.5}]
    result = throughput(records)
    assert result.value == pytest.approx(1.0)
    assert result.details["method"] == "sum_of_latencies"


def test_iso_timestamps():
    records = [
        {"latency_s": 1.0, "started_at": "2026-01-01T00:00:00+00:00",
         "finished_at": "2026-01-01T00:00:01+00:00"},
        {"latency_s": 1.0, "started_at": "2026-01-01T00:00:01+00:00",
         "finished_at": "2026-01-01T00:00:04+00:00"},
    ]  # fmt: skip
    assert throughput(records).value == pytest.approx(2 / 4)


def test_tokens_per_second():
    result = tokens_per_second(RECORDS)
    assert result.value == pytest.approx(40 / 2.5)
    assert result.per_sample[:2] == [10.0, 15.0]
    assert result.details["mean_per_sample"] == pytest.approx(12.5)
    assert tokens_per_second(RECORDS, tokens="total").value == pytest.approx(260 / 2.5)


def test_peak_memory():
    assert peak_memory(RECORDS).value == 1500.0
    ram = peak_memory(RECORDS, kind="ram")
    assert ram.value == 300.0 and ram.details["missing"] == 2
    assert math.isnan(peak_memory([{"latency_s": 1.0}]).value)  # no monitor: NaN, not 0


def test_answers_served_from_a_cache_are_left_out_of_speed():
    """Issue 29: 9 pages read, 51 questions answered from the page cache in microseconds."""
    read = [
        {"latency_s": 2.0, "started_at": 10.0 + 2 * i, "finished_at": 12.0 + 2 * i}
        for i in range(9)
    ]
    hits = [
        {"latency_s": 0.001, "started_at": 28.0, "finished_at": 28.001, "cached": True}
        for _ in range(51)
    ]
    records = read + hits
    p50 = latency(records, stat="p50")
    assert p50.value == 2.0 and p50.details["cached"] == 51 and p50.details["missing"] == 0
    assert all(math.isnan(v) for v in p50.per_sample[9:])
    speed = throughput(records)
    assert speed.value == pytest.approx(9 / 18.0) and speed.details["cached"] == 51
    tokens = tokens_per_second([{**r, "completion_tokens": 10} for r in records])
    assert tokens.value == pytest.approx(90 / 18.0)
    with pytest.raises(ValueError, match=r"record 0 field 'cached' is 'yes'"):
        latency([{"latency_s": 1.0, "cached": "yes"}])


def test_bad_input_names_record_and_field():
    with pytest.raises(ValueError, match=r"record 1 field 'latency_s' is 'slow'"):
        latency([{"latency_s": 1}, {"latency_s": "slow"}])
    with pytest.raises(ValueError, match=r"record 0 field 'latency_s' is -1.0"):
        latency([{"latency_s": -1}])
    with pytest.raises(ValueError, match="record 0 is str"):
        throughput(["1.0"])
    with pytest.raises(ValueError, match=r"finished_at .* is before started_at"):
        throughput([{"latency_s": 1, "started_at": 5, "finished_at": 4}])
    with pytest.raises(ValueError, match="ISO 8601"):
        throughput([{"latency_s": 1, "started_at": "yesterday", "finished_at": 4}])
    with pytest.raises(ValueError, match="stat must be"):
        latency(RECORDS, stat="median")
    with pytest.raises(ValueError, match="kind must be"):
        peak_memory(RECORDS, kind="disk")
    with pytest.raises(ValueError, match="expected a list of telemetry records"):
        latency({"latency_s": 1})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.001, max_value=1e4), min_size=1, max_size=30))
def test_latency_properties(values):
    result = latency([{"latency_s": v} for v in values])
    d = result.details
    assert d["min"] <= d["p50"] <= d["p90"] <= d["p99"] <= d["max"]
    assert d["p50"] == pytest.approx(statistics.median(values))
    assert d["mean"] == pytest.approx(statistics.fmean(values))
    # without timestamps, samples/s is the inverse of the mean latency
    assert throughput([{"latency_s": v} for v in values]).value == pytest.approx(1 / d["mean"])


def test_entry_points():
    found = {ep.name: ep for ep in entry_points(group="vlmhyperbench.metrics")}
    for metric in METRICS:
        assert found[metric.name].load() is metric
