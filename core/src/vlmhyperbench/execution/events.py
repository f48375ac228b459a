"""Typed events and the in-process EventBus.

Stage processes print events as JSON lines prefixed with ``EVENT_PREFIX`` on stdout; the
executor's output callback parses them and publishes them here, so subscribers (progress bar,
tracker, event log, dashboard) see the same stream whether a stage ran in a venv or a container.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

EVENT_PREFIX = "@@vlmhb-event "

StageKind = Literal["sync", "serve", "infer", "eval", "report", "upload"]


class _Event(BaseModel):
    ts: float = Field(default_factory=time.time)
    stage_id: str
    stage_kind: StageKind
    name: str = Field(description="Human-readable stage name, e.g. 'infer tesseract/vqa'.")


class StagePlanned(_Event):
    type: Literal["stage_planned"] = "stage_planned"
    depends_on: list[str] = Field(default_factory=list)


class StageStarted(_Event):
    type: Literal["stage_started"] = "stage_started"


class StageSkipped(_Event):
    type: Literal["stage_skipped"] = "stage_skipped"
    reason: str


class StageProgress(_Event):
    type: Literal["stage_progress"] = "stage_progress"
    done: int
    total: int
    failed: int = 0


class StageFinished(_Event):
    type: Literal["stage_finished"] = "stage_finished"
    outputs: dict[str, Any] = Field(default_factory=dict)


class StageFailed(_Event):
    type: Literal["stage_failed"] = "stage_failed"
    error: str


class ResourceSample(_Event):
    type: Literal["resource_sample"] = "resource_sample"
    metrics: dict[str, float]


class LogLine(_Event):
    type: Literal["log"] = "log"
    line: str


Event = Annotated[
    StagePlanned
    | StageStarted
    | StageSkipped
    | StageProgress
    | StageFinished
    | StageFailed
    | ResourceSample
    | LogLine,
    Field(discriminator="type"),
]
_event_adapter: TypeAdapter[Any] = TypeAdapter(Event)

Subscriber = Callable[[Any], None]


class EventBus:
    """Synchronous fan-out; thread-safe so async runners and executor threads can publish."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, event: Any) -> None:
        with self._lock:
            for subscriber in list(self._subscribers):
                subscriber(event)

    def publish_line(self, line: str, default: dict[str, Any]) -> bool:
        """Publish an event printed by a stage process; False when the line is not an event."""
        if not line.startswith(EVENT_PREFIX):
            return False
        try:
            payload = {**default, **json.loads(line[len(EVENT_PREFIX) :])}
            self.publish(_event_adapter.validate_python(payload))
        except (ValueError, ValidationError):
            return False
        return True


class EventLog:
    """Appends every event to ``events.jsonl`` (flushed: a crash loses nothing already seen)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def __call__(self, event: Any) -> None:
        self._file.write(event.model_dump_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def emit(event_type: str, **fields: Any) -> None:
    """For stage scripts: print an event line the core will pick up."""
    print(EVENT_PREFIX + json.dumps({"type": event_type, **fields}), flush=True)


def parse_event(data: dict[str, Any] | str) -> Any:
    """An event from its JSON (a line of ``events.jsonl``) or its dict."""
    if isinstance(data, str):
        return _event_adapter.validate_json(data)
    return _event_adapter.validate_python(data)
