"""The core's public API: open a registry, plan an experiment, run the plan.

The CLI, the management server and notebooks all drive runs through these three calls, and
follow them through ``subscribers`` (callables that receive every ``Event``)::

    registry = open_registry("registries", mode="dev")
    plan = plan_experiment(registry, "default", limit=2)
    outcome = run_plan(plan, registry, workdir=".work", subscribers=[print])
    print(outcome.status, outcome.rows)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .execution.events import EventBus, EventLog
from .execution.identity import PackageResolver
from .execution.planner import BenchmarkPlanner, PlanError
from .execution.runner import ExperimentRunner, RunOutcome
from .execution.stages import Plan
from .execution.tracker import TaskTracker
from .executors import ExecutorContext, create_executor
from .registry import (
    ExperimentEntry,
    Registry,
    RegistryError,
    RegistryLoader,
    run_mode,
    user_overlay_dir,
)
from .workdir import Workdir


class RegistryInvalid(RegistryError):
    """The registry (or an experiment file) has problems; ``.lines`` renders each one."""

    @property
    def lines(self) -> list[str]:
        return [p.render(Path.cwd()) for p in self.problems]


def default_registries() -> Path:
    return Path(os.environ.get("VLMHB_REGISTRIES") or "registries")


def open_registry(
    root: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    overlays: Sequence[str | os.PathLike[str]] = (),
    experiment_files: Sequence[str | os.PathLike[str]] = (),
) -> Registry:
    """Load and validate every registry file (and experiment files named by path).

    Raises ``RegistryInvalid`` listing every problem as ``file:line: field: message``, or
    ``FileNotFoundError`` naming the folder looked at and how to point at another one.
    """
    folder = Path(root) if root is not None else default_registries()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no registries folder at {folder.resolve()}: run from a VLMHyperBench checkout, or "
            "pass --registries DIR (or set VLMHB_REGISTRIES)"
        )
    user = user_overlay_dir()  # what `vlmhb import` wrote, read after the shipped registries
    loader = RegistryLoader(
        folder,
        mode=run_mode(mode),
        overlay_dirs=[*([user] if user.is_dir() else []), *(Path(p) for p in overlays)],
        extra_files={"experiments": [Path(p) for p in experiment_files]},
    )
    registry, problems = loader.collect()
    if problems:
        raise RegistryInvalid(problems, loader.root.parent)
    return registry


def _environments(registry: Registry) -> Any:
    from vlmhb_dependency_injector import EnvironmentManager

    cutoff = registry.settings.exclude_newer
    if cutoff is not None and not os.environ.get("UV_EXCLUDE_NEWER"):
        # uv reads it in every install and resolution, host and container builds alike
        os.environ["UV_EXCLUDE_NEWER"] = cutoff.isoformat().replace("+00:00", "Z")

    return EnvironmentManager(os.environ.get("VLMHB_ENV_CACHE"), base_dir=registry.repo_root)


def plan_experiment(
    registry: Registry,
    experiment: str | os.PathLike[str] | ExperimentEntry,
    *,
    limit: int | None = None,
) -> Plan:
    """The whole stage graph of an experiment: a registry name, the path of a file passed to
    ``open_registry(experiment_files=...)``, or an entry (e.g. from a user_config.csv);
    ``limit`` caps the samples of every run (like lm-eval's ``--limit``)."""
    if not isinstance(experiment, ExperimentEntry):
        text = os.fspath(experiment)
        experiment = Path(text).name.rsplit(".", 1)[0] if _is_path(text) else text
    resolver = PackageResolver(registry, _environments(registry), registry.mode)
    return BenchmarkPlanner(registry, resolver).plan(experiment, limit=limit)


def _is_path(value: str | os.PathLike[str]) -> bool:
    text = os.fspath(value)
    return text.endswith((".yaml", ".yml")) or os.sep in text


def run_plan(
    plan: Plan,
    registry: Registry,
    *,
    workdir: str | os.PathLike[str],
    executor: str | None = None,
    subscribers: Sequence[Callable[[Any], None]] = (),
    executor_options: dict[str, Any] | None = None,
    accept_data_change: bool = False,
    max_cost_usd: float | None = None,
) -> RunOutcome:
    """Run every stage of ``plan`` (skipping what is done), write the reports, return them.

    Each subscriber gets every event; ``events.jsonl`` in the report folder and the tracker
    (``tracker.sqlite``, read by ``vlmhb status``) get them too. ``max_cost_usd`` bounds the
    spend of models with a ``price``: no request starts whose worst case would pass it.
    """
    layout = Workdir(Path(workdir))
    layout.root.mkdir(parents=True, exist_ok=True)
    bus = EventBus()
    tracker = TaskTracker(layout.tracker_db, experiment=plan.experiment.name)
    log = EventLog(layout.events_log(plan.experiment.name))
    bus.subscribe(tracker)
    bus.subscribe(log)
    for subscriber in subscribers:
        bus.subscribe(subscriber)
    resolver = plan.resolver
    if resolver is None or resolver.registry is not registry:
        resolver = PackageResolver(registry, _environments(registry), registry.mode)
    env_manager = resolver.env_manager
    context = ExecutorContext(
        env_manager=env_manager,
        repo_root=registry.repo_root,
        workdir=layout.root,
        options=executor_options or {},
    )
    runner_executor = create_executor(executor or plan.experiment.executor, context)
    try:
        runner = ExperimentRunner(
            layout,
            bus,
            runner_executor,
            resolver,
            registry.mode,
            accept_data_change=accept_data_change,
            max_cost_usd=max_cost_usd,
        )
        return runner.run(plan)
    finally:
        runner_executor.close()
        tracker.close()
        log.close()


__all__ = [
    "Plan",
    "PlanError",
    "RegistryInvalid",
    "RunOutcome",
    "open_registry",
    "plan_experiment",
    "run_plan",
]
