"""Console subscriber: one line per stage transition, and a live bar while samples flow."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .events import StageFailed, StageFinished, StageProgress, StageSkipped, StageStarted


class ConsoleProgress:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._tasks: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self.durations: dict[str, tuple[str, float]] = {}

    def __enter__(self) -> ConsoleProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: Any) -> None:
        if isinstance(event, StageStarted):
            self._started[event.stage_id] = event.ts
            self.console.print(f"[cyan]▶[/] {event.name}")
        elif isinstance(event, StageSkipped):
            self.console.print(f"[dim]↷ {event.name} ({event.reason})[/]")
        elif isinstance(event, StageProgress) and event.stage_kind == "infer":
            task = self._tasks.get(event.stage_id)
            if task is None:
                task = self.progress.add_task(event.name, total=event.total, rate="")
                self._tasks[event.stage_id] = task
            elapsed = time.time() - self._started.get(event.stage_id, time.time())
            rate = f"{event.done / elapsed:.2f} samples/s" if elapsed > 0 else ""
            if event.failed:
                rate += f", {event.failed} failed"
            self.progress.update(task, completed=event.done, total=event.total, rate=rate)
        elif isinstance(event, StageFinished):
            took = event.ts - self._started.get(event.stage_id, event.ts)
            self.durations[event.stage_id] = (event.stage_kind, took)
            if event.stage_id in self._tasks:
                self.progress.remove_task(self._tasks.pop(event.stage_id))
            note = (event.outputs or {}).get("note")
            if (event.outputs or {}).get("complete") is False and note:
                # partial: what is left for the next run, and why (a stop, failed samples)
                self.console.print(
                    f"[yellow]◐ {escape(event.name)}[/] [dim]({took:.1f} s)[/]: {escape(note)}"
                )
            else:
                self.console.print(f"[green]✔[/] {event.name} [dim]({took:.1f} s)[/]")
        elif isinstance(event, StageFailed):
            if event.stage_id in self._tasks:
                self.progress.remove_task(self._tasks.pop(event.stage_id))
            lines = event.error.splitlines() if event.error else [""]
            self.console.print(f"[red]✘ {event.name}[/]: {escape(lines[0])}", markup=True)
            for line in lines[1:]:  # the stage's last output lines: why it failed
                self.console.print(f"    {line}", markup=False, highlight=False)

    def time_by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for kind, took in self.durations.values():
            totals[kind] = totals.get(kind, 0.0) + took
        return totals
