"""The leaderboard in a terminal: one table per task (tasks have different metrics), quality
first, then speed and memory, fitting 120 columns; ``leaderboard.csv`` keeps every column.
Needs the ``cli`` extra (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .columns import quality_columns

TERMINAL_WIDTH = 120
"""The terminal table fits this; leaderboard.csv keeps every column."""
SHOWN_SPEED = {"latency_p50_s": "p50 s", "samples_per_s": "samples/s", "peak_rss_mb": "RSS MB"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def print_leaderboard(out: Console, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """One table per task (tasks have different metrics): quality first, then speed, memory."""
    notes = set()
    speed_notes = []  # why a row's speed figures are unreliable, or what they leave out
    for task in dict.fromkeys(row["task"] for row in rows):
        subset = [row for row in rows if row["task"] == task]
        metrics = [c for c in quality_columns(columns) if any(r.get(c) is not None for r in subset)]
        who = ["model", "prompt"]
        if len({r["dataset"] for r in subset}) > 1:
            who.insert(1, "dataset")
        speed = dict(SHOWN_SPEED)
        if any(row.get("peak_vram_mb") for row in subset):
            speed["peak_vram_mb"] = "VRAM MB"
        if any(row.get("cost_usd") is not None for row in subset):
            speed["cost_usd"] = "cost USD"
        if any(row.get("truncated") for row in subset):
            speed["truncated_share"] = "truncated"
        table = Table(
            *who,
            *metrics,
            *speed.values(),
            "status",
            title=f"leaderboard — task {task}",
            title_justify="left",
            width=min(TERMINAL_WIDTH, out.width),
        )
        for row in subset:
            table.add_row(
                *[str(row[c]) for c in who],
                *[_cell(row.get(c)) for c in metrics],
                *[_cell(row.get(c)) for c in speed],
                str(row.get("status", "")),
            )
            if row.get("speed_note") not in (None, "ok"):
                speed_notes.append(f"{row['model']} / {row['prompt']}: {row['speed_note']}")
            if any(c in ("cer", "wer") and (row.get(c) or 0) > 1 for c in metrics):
                notes.add(
                    "CER/WER above 1: the answer needs more edits than the reference has "
                    "characters (words), e.g. a long answer to a short question; it is not capped."
                )
        out.print(table)
    for note in sorted(notes):
        out.print(f"note: {note}")
    for note in speed_notes:
        out.print(f"speed: {note}")
