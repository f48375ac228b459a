"""Writing an experiment's reports: each kind it asks for, found through the entry-point group
``vlmhyperbench.reports`` (like executors and metrics), then ``runs.json`` last, so a report
folder with ``runs.json`` is one whose writers all finished."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from vlmhb_workdir import write_json

from .leaderboard import leaderboard_rows
from .records import ReportWriter, RunEntry

GROUP = "vlmhyperbench.reports"


class ReportKindError(LookupError):
    """A report kind no installed package provides."""


def report_kinds() -> dict[str, Any]:
    """Installed report kinds: name -> entry point (loaded only when used)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def report_writer(kind: str) -> ReportWriter:
    found = report_kinds()
    if kind not in found:
        raise ReportKindError(
            f"report kind {kind!r}: no installed package provides it (entry-point group "
            f"{GROUP!r} has: {', '.join(sorted(found)) or 'nothing'}); the v0.1 export "
            "comes with vlmhb-v01"
        )
    return found[kind].load()


def write_reports(
    out: Path, runs: list[RunEntry], workdir: Path, kinds: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The reports ``kinds`` into ``out``, then ``runs.json``; returns the leaderboard
    (columns, rows) for the caller's own display."""
    out.mkdir(parents=True, exist_ok=True)
    writers = [report_writer(kind) for kind in dict.fromkeys(kinds)]  # unknown kinds fail first
    for write in writers:
        write(out, runs, workdir)
    write_json(out / "runs.json", [{k: v for k, v in r.items() if k != "metrics"} for r in runs])
    return leaderboard_rows(runs, workdir)
