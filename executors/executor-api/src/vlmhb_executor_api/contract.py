"""The executor contract: what every executor does, what some can do besides, how one is found.

Executors are plugins: the entry-point group ``GROUP`` maps a name (``local``, ``docker``,
``ray``) to a factory called as ``factory(context)`` with an ``ExecutorContext``. The core
finds and calls them; a plugin imports this package only, never the core.

A capability only some executors have is a protocol of its own, ``runtime_checkable``, so the
caller asks ``isinstance(executor, StopsRecorded)`` and a type checker sees what it relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .specs import ServiceSpec, StageOutcome, StageSpec

GROUP = "vlmhyperbench.executors"
"""The entry-point group executor factories register under."""

OutputCallback = Callable[[str], None]
"""Called with each output line of a stage, in order, as it is printed."""


@runtime_checkable
class ServiceHandle(Protocol):
    """A started service: where it answers, whether it lives, how to stop it."""

    base_url: str
    environment_lock: str

    def alive(self) -> bool: ...

    def stop(self) -> None: ...

    def record(self) -> dict[str, Any]:
        """What identifies it for a later cleanup (pid or container id, port, started_at)."""
        ...


@runtime_checkable
class Executor(Protocol):
    """Runs stages (streaming each output line to ``on_output``) and starts model servers."""

    kind: str

    def run(self, spec: StageSpec, on_output: OutputCallback | None = None) -> StageOutcome: ...

    def start_service(self, spec: ServiceSpec) -> ServiceHandle: ...

    def close(self) -> None: ...


@runtime_checkable
class StopsRecorded(Protocol):
    """An executor that can stop a server a dead run left behind, from the record its handle
    gave (``ServiceHandle.record()``: a container id, a Ray actor's name). Local processes
    need no executor for that (``services.stop_process_record``), so ``local`` lacks it."""

    def stop_recorded(self, record: dict[str, Any]) -> bool:
        """Stop what ``record`` names if it is still there; True if something was stopped."""
        ...


class ExecutorError(RuntimeError):
    """The executor cannot run here (no engine answers, unknown name...); names the fix."""


__all__ = [
    "GROUP",
    "Executor",
    "ExecutorError",
    "OutputCallback",
    "ServiceHandle",
    "StopsRecorded",
]
