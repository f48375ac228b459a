"""VLMHyperBench core: composes independent packages into benchmark runs.

The public API (what the CLI and the management server use)::

    from vlmhyperbench import open_registry, plan_experiment, run_plan

    registry = open_registry("registries", mode="dev")
    plan = plan_experiment(registry, "default", limit=2)
    outcome = run_plan(plan, registry, workdir=".work", subscribers=[print])

Events (``StageStarted``, ``StageProgress``...) are Pydantic models with a ``type`` field;
``parse_event`` turns their JSON back into them.
"""

from .api import RegistryInvalid, open_registry, plan_experiment, run_plan
from .execution.events import (
    Event,
    EventBus,
    LogLine,
    ResourceSample,
    StageFailed,
    StageFinished,
    StagePlanned,
    StageProgress,
    StageSkipped,
    StageStarted,
    parse_event,
)
from .execution.planner import BenchmarkPlanner, PlanError
from .execution.runner import ExperimentRunner, RunOutcome
from .execution.stages import Plan, PlannedRun, RunResult, Stage
from .execution.user_config import UserConfigError, experiment_from_user_config
from .registry import Registry, RegistryError
from .workdir import Workdir

__version__ = "0.3.0"

__all__ = [
    "BenchmarkPlanner",
    "Event",
    "EventBus",
    "ExperimentRunner",
    "LogLine",
    "Plan",
    "PlanError",
    "PlannedRun",
    "Registry",
    "RegistryError",
    "RegistryInvalid",
    "ResourceSample",
    "RunOutcome",
    "RunResult",
    "Stage",
    "StageFailed",
    "StageFinished",
    "StagePlanned",
    "StageProgress",
    "StageSkipped",
    "StageStarted",
    "UserConfigError",
    "Workdir",
    "experiment_from_user_config",
    "open_registry",
    "parse_event",
    "plan_experiment",
    "run_plan",
]
