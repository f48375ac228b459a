"""Leaderboard columns, in reading order: who, quality (a column per metric with its CI),
speed, memory, counts. Said once here; the CSV, the terminal table, report.html, the figures
and the management server all order and classify columns by these lists."""

from __future__ import annotations

import re
from collections.abc import Iterable

BASE_COLUMNS = ["run", "model", "dataset", "task", "prompt"]
SPEED_COLUMNS = ["latency_p50_s", "latency_p90_s", "samples_per_s", "output_tokens_per_s"]
SPEED_CONTEXT_COLUMNS = ["cached_answers", "peak_load_per_cpu", "parallel_models", "speed_note"]
"""What the speed figures must be read with (``speed``): answers left out for the cache, what
the machine was doing, and whether the figures are reliable."""
MEMORY_COLUMNS = ["peak_rss_mb", "peak_vram_mb"]
#: Tokens summed over the answered samples (from each answer's ``usage``), the spend from the
#: model entry's ``price``, and the cost per correct answer (see ``leaderboard.cost_per_correct``).
COST_COLUMNS = [
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_per_correct_usd",
]
#: Generations that are not a whole answer: cut by max_tokens (``finish_reason=length``),
#: empty; ``reproducible`` is "no (hosted)" for an endpoint someone else serves.
GENERATION_COLUMNS = ["truncated", "truncated_share", "empty", "reproducible"]
COUNT_COLUMNS = ["samples", "failed", "status"]
TAIL_COLUMNS = [
    *SPEED_COLUMNS,
    *SPEED_CONTEXT_COLUMNS,
    *MEMORY_COLUMNS,
    *COST_COLUMNS,
    *GENERATION_COLUMNS,
    *COUNT_COLUMNS,
]
CI_SUFFIXES = ("_ci_low", "_ci_high")
LATENCY_COLUMN = "latency_p50_s"
SAMPLE_KEYS = ("id", "doc_class", "question_type", "parse_status", "answer")
"""Columns of an evaluation's ``per_sample.csv`` that are not scores."""

_NOT_QUALITY = {*BASE_COLUMNS, *TAIL_COLUMNS}
_LOWER_IS_BETTER = re.compile(
    r"(^|_)(cer|wer|ter|error|errors|latency|distance|loss|omission)($|_)", re.I
)


def quality_columns(columns: Iterable[str]) -> list[str]:
    """The metric columns of a leaderboard, without their CI bounds or private ``_`` keys."""
    return [
        c
        for c in columns
        if c not in _NOT_QUALITY and not c.startswith("_") and not c.endswith(CI_SUFFIXES)
    ]


def higher_is_better(metric: str, declared: dict[str, bool] | None = None) -> bool:
    """The metric's direction: as its registry entry declared it, else guessed by name."""
    if declared and metric in declared:
        return bool(declared[metric])
    return not _LOWER_IS_BETTER.search(metric)
