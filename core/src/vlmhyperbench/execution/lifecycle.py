"""The stage lifecycle, written once: planned -> done? -> started -> body -> finished | failed.

Every kind of stage goes through ``StageLifecycle.run``: it publishes the events, skips a
cacheable stage whose folder holds the done marker, writes the marker last when the body
completes, and turns an exception into a ``StageFailed`` event and a failed result. A body
says "nothing to do" by raising ``SkipStage`` and "ran, but is not complete: try again next
time" by raising ``IncompleteStage``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..workdir import Workdir
from .events import EventBus, StageFailed, StageFinished, StagePlanned, StageSkipped, StageStarted
from .stages import Stage


class SkipStage(Exception):
    """Raised by a body: the stage has nothing to do (the message says why)."""


class IncompleteStage(Exception):
    """Raised by a body: it ran and has outputs, but left work for the next run, so it is
    finished without the done marker (and what depends on it is not marked done either)."""

    def __init__(self, message: str, outputs: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.outputs = outputs or {}


@dataclass
class StageResult:
    stage: Stage
    status: Literal["done", "skipped", "partial", "failed"]
    folder: Path | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


Body = Callable[[Path | None], dict[str, Any] | None]


class StageLifecycle:
    """Runs stage bodies with the one lifecycle; knows the bus and the folder layout."""

    def __init__(self, bus: EventBus, layout: Workdir) -> None:
        self.bus = bus
        self.layout = layout

    def folder(self, stage: Stage) -> Path | None:
        if stage.kind == "serve":
            return None
        if stage.kind == "report":
            return self.layout.report_dir(stage.experiment.name)  # type: ignore[attr-defined]
        return self.layout.stage_dir(stage.kind, stage.id)

    def _publish(self, cls: type, stage: Stage, **fields: Any) -> None:
        self.bus.publish(cls(stage_id=stage.id, stage_kind=stage.kind, name=stage.name, **fields))

    def planned(self, stage: Stage) -> None:
        self._publish(StagePlanned, stage, depends_on=list(stage.deps))

    def is_done(self, stage: Stage) -> bool:
        folder = self.folder(stage)
        return stage.cacheable and folder is not None and Workdir.is_done(folder)

    def fail(self, stage: Stage, error: str) -> StageResult:
        """Record a stage that cannot run (an upstream stage failed)."""
        self._publish(StageFailed, stage, error=error)
        return StageResult(stage, "failed", self.folder(stage), error=error)

    def run(
        self,
        stage: Stage,
        body: Body,
        *,
        skip_reason: str = "outputs exist",
        complete: bool = True,
    ) -> StageResult:
        """Run ``body`` under the lifecycle; ``complete=False`` (an input is partial) runs it
        but leaves the stage unmarked, so the next run does it again."""
        folder = self.folder(stage)
        if self.is_done(stage):
            self._publish(StageSkipped, stage, reason=skip_reason)
            return StageResult(stage, "skipped", folder)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self._publish(StageStarted, stage)
        try:
            outputs = body(folder) or {}
        except SkipStage as exc:
            self._publish(StageSkipped, stage, reason=str(exc))
            return StageResult(stage, "skipped", folder)
        except IncompleteStage as exc:
            outputs = {**exc.outputs, "complete": False, "note": str(exc)}
            self._publish(StageFinished, stage, outputs=outputs)
            return StageResult(stage, "partial", folder, outputs=outputs)
        except Exception as exc:  # any failure of the body fails this stage, not the run
            error = str(exc) or type(exc).__name__
            self._publish(StageFailed, stage, error=error)
            return StageResult(stage, "failed", folder, error=error)
        if not complete:
            outputs = {**outputs, "complete": False}
            self._publish(StageFinished, stage, outputs=outputs)
            return StageResult(stage, "partial", folder, outputs=outputs)
        if stage.cacheable and folder is not None:
            Workdir.mark_done(folder)
        self._publish(StageFinished, stage, outputs=outputs)
        return StageResult(stage, "done", folder, outputs=outputs)
