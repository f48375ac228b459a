# Run:  uv run --no-project --with ./dependency-injector --with ./statistics --with ./core \
#         --with ./executors/ray-executor env RUN_MODE=dev python bench/bench_ray_executor.py
#       [--experiment default] [--limit 2] [--repeat 1]
"""Per-stage overhead of the Ray executor against the local one, on the same experiment.

1. a warm-up run with the local executor (environments built, datasets generated: neither
   is what this measures);
2. then, ``--repeat`` times alternately, the experiment into a fresh work dir with the local
   executor and with the Ray executor (a local Ray instance started once beforehand; its
   start-up is printed apart, it is paid once per run, not per stage);
3. each stage's wall time from the run's own events; printed per stage kind: local, ray, the
   difference per stage (goal: under 1 s) and the ratio ray / local, measured in this run.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure  # noqa: E402

GOAL_PER_STAGE_S = 1.0  # issue #15
EXECUTOR_KINDS = ("sync", "serve", "eval")
"""Stages that go through the executor (infer and report run in the driver either way)."""


class StageClock:
    """Event subscriber: wall time of every stage that ran (skipped ones are not counted)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.times: dict[str, tuple[str, str, float]] = {}

    def __call__(self, event: Any) -> None:
        if event.type == "stage_started":
            self.started[event.stage_id] = event.ts
        elif event.type == "stage_finished" and event.stage_id in self.started:
            elapsed = event.ts - self.started.pop(event.stage_id)
            self.times[event.stage_id] = (event.stage_kind, event.name, elapsed)


def run_once(
    experiment: str,
    limit: int | None,
    executor: str,
    workdir: Path,
    options: dict[str, Any] | None = None,
) -> dict[str, tuple[str, str, float]]:
    from vlmhyperbench.api import open_registry, plan_experiment, run_plan

    registry = open_registry(REPO / "registries", mode="dev")
    plan = plan_experiment(registry, experiment, limit=limit)
    clock = StageClock()
    outcome = run_plan(
        plan,
        registry,
        workdir=workdir,
        executor=executor,
        subscribers=[clock],
        executor_options=options,
    )
    if outcome.status != "done":
        sys.exit(f"{executor} run of {experiment} failed: {outcome.errors}")
    return clock.times


def print_stage_table(per_kind: dict[str, dict[str, list[float]]], rounds: int) -> list[float]:
    """Print mean seconds per stage kind, local against ray (``per_kind[kind][executor]``),
    with the difference and the ratio; return the differences of the kinds that go through
    the executor."""
    print(f"{'stage':<7}{'count':>6}{'local':>9}{'ray':>9}{'ray-local':>11}{'ray/local':>11}")
    diffs: list[float] = []
    for kind in sorted(per_kind):
        local, remote = per_kind[kind]["local"], per_kind[kind]["ray"]
        if not local or not remote:
            continue
        lm, rm = statistics.mean(local), statistics.mean(remote)
        if kind in EXECUTOR_KINDS:
            diffs.append(rm - lm)
        print(
            f"{kind:<7}{len(remote) // rounds:>6}{lm:>9.2f}{rm:>9.2f}"
            f"{rm - lm:>+11.2f}{rm / lm if lm else float('nan'):>10.2f}x"
        )
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="default")
    parser.add_argument("--limit", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    import ray

    root = Path(tempfile.mkdtemp(prefix="vlmhb-bench-ray-"))
    try:
        started = time.perf_counter()
        run_once(args.experiment, args.limit, "local", root / "warmup")
        print(f"warm-up (local, environments and data)  : {time.perf_counter() - started:7.1f} s")
        started = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        startup = time.perf_counter() - started
        print(f"local Ray instance start-up (once a run)  : {startup:7.1f} s")

        per_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for round_ in range(args.repeat):
            for executor in ("local", "ray"):
                times = run_once(
                    args.experiment, args.limit, executor, root / f"{executor}-{round_}"
                )
                for kind, _name, elapsed in times.values():
                    per_kind[kind][executor].append(elapsed)

        print(f"\n{args.experiment} --limit {args.limit}, {args.repeat} round(s)")
        diffs = print_stage_table(per_kind, args.repeat)
        local_total = sum(statistics.mean(v["local"]) * len(v["local"]) for v in per_kind.values())
        ray_total = sum(statistics.mean(v["ray"]) * len(v["ray"]) for v in per_kind.values())
        worst = max(diffs) if diffs else float("nan")
        ratio = ray_total / local_total if local_total else float("nan")
        print(
            f"\nworst per-stage overhead (sync/serve/eval): {worst:+.2f} s "
            f"(goal < {GOAL_PER_STAGE_S:g} s: {'met' if worst < GOAL_PER_STAGE_S else 'NOT met'})"
        )
        print(f"all stages, ray / local                   : {ratio:.2f}x")
        emit(
            "ray_executor",
            [
                figure(
                    "ray executor overhead per stage (worst kind)",
                    round(worst, 2),
                    "s",
                    f"< {GOAL_PER_STAGE_S:g} s",
                    worst < GOAL_PER_STAGE_S,
                ),
                figure("all stages, ray / local", round(ratio, 2), "x"),
                figure("local Ray instance start-up", round(startup, 1), "s"),
            ],
        )
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
