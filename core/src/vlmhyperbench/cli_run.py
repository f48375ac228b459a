"""``vlmhb run`` / ``vlmhb bench``: the public API plus a console: progress, leaderboard, exit code.

SIGINT and SIGTERM stop the run cleanly: the model servers are stopped by the runner's
``finally`` blocks and the work dir stays resumable (answers are flushed per sample).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from vlmhb_dependency_injector import DependencyError
from vlmhb_reports.terminal import print_leaderboard

from .api import plan_experiment, run_plan
from .execution.planner import PlanError
from .execution.progress import ConsoleProgress
from .execution.stages import Plan
from .execution.user_config import UserConfigError, experiment_from_user_config
from .executors import ExecutorError
from .registry import Registry
from .workdir import write_json

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130
RUN_RECORD = "run.json"
"""``<workdir>/run.json``: the pid of the run using the work dir (for ``vlmhb stop``)."""


class _Stop(BaseException):
    """Like KeyboardInterrupt: not a stage's error, so no stage body may swallow it."""


def plan_for(
    registry: Registry,
    experiment: str | None,
    user_config: Path | None,
    limit: int | None,
) -> Plan:
    if user_config is not None:
        entry, prompts = experiment_from_user_config(user_config, registry)
        for prompt in prompts.values():
            registry.add("prompts", prompt, user_config)
        return plan_experiment(registry, entry, limit=limit)
    return plan_experiment(registry, experiment or "default", limit=limit)


def print_plan(out: Console, plan: Plan, workdir: Path) -> None:
    """Every stage, cached or to run, with an estimated time (``vlmhb plan``, ``--dry-run``)."""
    from .analysis import estimate

    table = Table(
        "stage", "id", "state", "estimate", "basis", title=f"plan — {plan.experiment.name}"
    )
    total = 0.0
    for item in estimate(plan, workdir):
        shown = "" if item.seconds is None else f"{item.seconds:.1f} s"
        total += item.seconds or 0.0
        table.add_row(
            item.name, item.stage_id, "cached" if item.cached else "to run", shown, item.basis
        )
    out.print(table)
    out.print(f"estimated total: {total:.1f} s (stages without an estimate not counted)")


def run_experiment(
    registry: Registry,
    experiment: str | None,
    user_config: Path | None,
    workdir: Path,
    executor: str | None,
    out: Console,
    err: Console,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    accept_data_change: bool = False,
    executor_options: dict[str, Any] | None = None,
    max_cost_usd: float | None = None,
) -> int:
    try:
        plan = plan_for(registry, experiment, user_config, limit)
    except (PlanError, UserConfigError, KeyError) as exc:
        err.print(str(exc).strip('"'), markup=False, highlight=False)
        return EXIT_BAD_INPUT
    except DependencyError as exc:  # a prod source (git tag, PyPI release) cannot be resolved
        hint = ""
        if registry.mode == "prod":
            hint = (
                "\nin a source checkout, `--mode dev` (or RUN_MODE=dev) uses the packages' local "
                "folders instead of published tags"
            )
        err.print(f"{exc}{hint}", markup=False, highlight=False)
        return EXIT_RUN_FAILED
    workdir = workdir.resolve()
    kind = executor or plan.experiment.executor
    out.print(
        f"experiment [bold]{plan.experiment.name}[/]: {len(plan.runs)} runs, "
        f"{len(plan.models)} models, {len(plan.datasets)} datasets; executor {kind}, "
        f"mode {registry.mode}; workdir {workdir}"
    )
    if dry_run:
        print_plan(out, plan, workdir)
        return EXIT_OK
    from .analysis import estimate

    estimates = [e for e in estimate(plan, workdir) if not e.cached and e.seconds is not None]
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    write_json(workdir / RUN_RECORD, {"pid": os.getpid(), "experiment": plan.experiment.name})
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM,)}

    def stop(signum: int, frame: Any) -> None:
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    progress = ConsoleProgress(err)
    try:
        with progress:
            outcome = run_plan(
                plan,
                registry,
                workdir=workdir,
                executor=kind,
                subscribers=[progress],
                executor_options=executor_options,
                accept_data_change=accept_data_change,
                max_cost_usd=max_cost_usd,
            )
    except ExecutorError as exc:
        err.print(f"executor {kind}: {exc}", markup=False, highlight=False)
        return EXIT_RUN_FAILED
    except (KeyboardInterrupt, _Stop) as exc:
        err.print(
            f"run stopped ({type(exc).__name__ if isinstance(exc, KeyboardInterrupt) else exc}); "
            "model servers stopped, answers so far kept: run the same command again to resume"
        )
        return EXIT_INTERRUPTED
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        (workdir / RUN_RECORD).unlink(missing_ok=True)
    print_leaderboard(out, outcome.columns, outcome.rows)
    if outcome.budget_exhausted:
        err.print(
            f"run stopped early: {outcome.budget_exhausted}; answers so far kept, run again "
            "(with a higher --max-cost) to resume",
            markup=False,
            highlight=False,
        )
    for result in outcome.results:
        if result.error:
            err.print(f"[red]run {result.run.name} failed:[/] {result.error}", highlight=False)
    took = time.perf_counter() - started
    times = progress.time_by_kind()
    by_kind = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(times.items()))
    if set(times) <= {"report"}:  # the report is rewritten every time; nothing else ran
        cached = "everything cached" if outcome.status == "done" else "nothing ran"
        by_kind = f"{cached}; {by_kind}" if by_kind else cached
    out.print(f"report: {outcome.report_dir / 'report.html'}  ({took:.1f} s; {by_kind})")
    if estimates:  # how far the plan's estimate was from what happened, for the next plan
        actual = {sid: t for sid, (_, t) in progress.durations.items()}
        pairs = [(e.seconds or 0.0, actual[e.stage_id]) for e in estimates if e.stage_id in actual]
        if pairs:
            guessed, took_s = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
            error = (guessed - took_s) / took_s if took_s > 0 else 0.0
            out.print(
                f"estimate check: {len(pairs)} stages estimated {guessed:.1f} s, took "
                f"{took_s:.1f} s ({error:+.0%})"
            )
    return EXIT_RUN_FAILED if outcome.status == "failed" else EXIT_OK
