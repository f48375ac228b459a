"""``vlmhb plan``: what would run, what is cached, and how long it should take.

Estimates come from earlier runs in the same work dir: an infer stage costs its model's
seconds per sample on that dataset (from the answers' timestamps) times the samples it will
ask; sync and eval stages cost what the same dataset's (or the same run's) stage took last.
After a run, the CLI prints the estimate next to what it took, so users learn how far to trust it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vlmhb_workdir import ANSWERS_FILE, MANIFEST_FILE, RUN_CONFIG_FILE

from ..execution.answers import read_answers
from ..execution.stages import InferStage, Plan
from ..execution.tracker import TaskTracker
from ..workdir import Workdir, read_json


@dataclass
class StageEstimate:
    stage_id: str
    kind: str
    name: str
    cached: bool
    seconds: float | None
    basis: str


def _seconds_per_sample(layout: Workdir) -> dict[tuple[str, str], float]:
    """(model, dataset) -> wall seconds per answered sample, from finished runs."""
    rates: dict[tuple[str, str], float] = {}
    for run_json in layout.stage_root("infer").glob(f"*/{RUN_CONFIG_FILE}"):
        try:
            run = read_json(run_json)
            records = [r for r in read_answers(run_json.parent / ANSWERS_FILE).values()]
        except (OSError, ValueError, KeyError):
            continue
        starts = [r.started_at for r in records if r.started_at]
        ends = [r.finished_at for r in records if r.finished_at]
        if len(starts) >= 2 and ends:
            rate = (max(ends) - min(starts)) / len(starts)
            rates[(run["model"]["name"], run["dataset"]["name"])] = rate
    return rates


def _last_durations(layout: Workdir) -> dict[str, float]:
    """Stage name -> seconds it took the last time it ran (from the tracker)."""
    if not layout.tracker_db.exists():
        return {}
    tracker = TaskTracker(layout.tracker_db)
    try:
        return {
            row.name: row.duration_s
            for row in tracker.rows()
            if row.state == "done" and row.duration_s is not None
        }
    finally:
        tracker.close()


def _samples(layout: Workdir, stage: InferStage) -> int | None:
    manifest = layout.stage_dir("sync", stage.sync.id) / MANIFEST_FILE
    count = (
        json.loads(manifest.read_text(encoding="utf-8"))["samples"] if manifest.exists() else None
    )
    if stage.run.limit is not None:
        return min(count, stage.run.limit) if count is not None else stage.run.limit
    return count


def estimate(plan: Plan, workdir: Path) -> list[StageEstimate]:
    layout = Workdir(workdir)
    rates = _seconds_per_sample(layout)
    durations = _last_durations(layout)
    result = []
    for stage in plan.stages:
        folder = None if stage.kind == "serve" else layout.stage_dir(stage.kind, stage.id)
        cached = bool(stage.cacheable and folder is not None and Workdir.is_done(folder))
        seconds, basis = None, "no earlier run to go by"
        if cached:
            seconds, basis = 0.0, "cached"
        elif isinstance(stage, InferStage):
            rate = rates.get((stage.run.model.name, stage.run.dataset.name))
            samples = _samples(layout, stage)
            if rate is not None and samples is not None:
                seconds = rate * samples
                basis = f"{samples} samples x {rate:.2f} s (earlier runs of this model)"
        elif stage.name in durations:
            seconds, basis = durations[stage.name], "took this long last time"
        result.append(StageEstimate(stage.id, stage.kind, stage.name, cached, seconds, basis))
    return result
