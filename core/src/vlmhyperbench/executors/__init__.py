"""Where stages and model servers run, behind one contract; found by entry points.

The contract (specs, the ``Executor`` protocol and its capabilities, the local executor) is the
package ``vlmhb-executor-api``, which executor plugins import instead of the core; its names are
re-exported here so the core's own code and its users keep one import. What stays in the core
is finding an executor by name: ``local`` is registered by the core (its factory lives in the
contract package), ``docker`` and ``ray`` by their own packages, all under ``GROUP``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from vlmhb_executor_api import (
    GROUP,
    Executor,
    ExecutorContext,
    ExecutorError,
    LocalExecutor,
    OutputCallback,
    ServiceHandle,
    ServiceSpec,
    StageOutcome,
    StageSpec,
    StopsRecorded,
)


def available_executors() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def create_executor(name: str, context: ExecutorContext) -> Executor:
    """The executor registered as ``name`` (the core registers ``local`` like any plugin);
    a clear error naming what is installed."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise ExecutorError(
            f"no executor named {name!r} (installed: {', '.join(available_executors())}); "
            f"install its package, e.g. `uv pip install vlmhb-{name}-executor`"
        )
    return found[0].load()(context)


__all__ = [
    "GROUP",
    "Executor",
    "ExecutorContext",
    "ExecutorError",
    "LocalExecutor",
    "OutputCallback",
    "ServiceHandle",
    "ServiceSpec",
    "StageOutcome",
    "StageSpec",
    "StopsRecorded",
    "available_executors",
    "create_executor",
]
