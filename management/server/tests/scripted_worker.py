"""The real worker (``vlmhb_server.worker``) with the core's run replaced by a script.

TEST DOUBLE, named as such: running the real default experiment needs model environments and
minutes; this stand-in keeps every other part real (the core's planner validates and plans the
experiment, the worker process, the database, the event writer) and emits events for the real
plan's stages, typed by the core's own event models, then leaves result files in the core's
layout. Tuned by environment variables: SCRIPTED_DELAY_S (between events), SCRIPTED_PROGRESS
(progress events per infer stage), SCRIPTED_SAMPLES, SCRIPTED_FAIL, SCRIPTED_PAD (a
log event of that many bytes after each progress event, to fill a slow client's buffers).
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import make_workdir
from vlmhb_server import core_bridge
from vlmhb_server.worker import main


def scripted_execute(
    prepared: core_bridge.Prepared, workdir: Path, subscriber: Any, executor: str | None = None
) -> core_bridge.Outcome:
    delay = float(os.environ.get("SCRIPTED_DELAY_S", "0"))
    steps = int(os.environ.get("SCRIPTED_PROGRESS", "3"))
    # random text: WebSocket compression must not shrink it away
    pad = base64.b64encode(os.urandom(int(os.environ.get("SCRIPTED_PAD", "0")))).decode()

    def emit(**fields: Any) -> None:
        subscriber(core_bridge.parse_event(fields))
        if delay:
            time.sleep(delay)

    for stage in prepared.plan.stages:
        base = {"stage_id": stage.id, "stage_kind": stage.kind, "name": stage.name}
        emit(type="stage_planned", depends_on=list(stage.deps), **base)
    if os.environ.get("SCRIPTED_FAIL"):
        raise RuntimeError("scripted failure")
    for stage in prepared.plan.stages:
        base = {"stage_id": stage.id, "stage_kind": stage.kind, "name": stage.name}
        emit(type="stage_started", **base)
        if stage.kind == "infer":
            for done in range(1, steps + 1):
                emit(type="stage_progress", done=done, total=steps, **base)
                if pad:
                    emit(type="log", line=pad, **base)
        emit(type="stage_finished", outputs={}, **base)
    make_workdir(workdir, prepared.name, samples=int(os.environ.get("SCRIPTED_SAMPLES", "12")))
    return core_bridge.Outcome("done", workdir / "reports" / prepared.name, [])


if __name__ == "__main__":
    sys.exit(main(execute=scripted_execute))
