"""Where stages and model servers run, behind one contract; found by entry points.

``local`` ships here; ``docker`` and ``ray`` are packages of their own that register under the
entry-point group ``vlmhyperbench.executors``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from .base import (
    Executor,
    ExecutorContext,
    ExecutorError,
    OutputCallback,
    ServiceHandle,
    ServiceSpec,
    StageOutcome,
    StageSpec,
)
from .local import LocalExecutor

GROUP = "vlmhyperbench.executors"


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
    "available_executors",
    "create_executor",
]
