"""Running a stage script through the executor: copy it (and its config models) into the stage
folder, write its config, run it in an environment of the packages it needs, relay its events.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from vlmhb_dependency_injector import PypiSource

from ..executors import StageSpec
from ..stages import CONFIGS_MODULE, script
from .events import EventBus
from .identity import PackageResolver
from .stages import Stage


class StageError(RuntimeError):
    pass


def _pydantic_source() -> PypiSource:
    """Stage scripts read their config with pydantic: the same release the core runs."""
    version = importlib.metadata.version("pydantic")
    return PypiSource(type="pypi", name="pydantic", version=f"=={version}")


class ScriptRunner:
    def __init__(self, executor: Any, resolver: PackageResolver, bus: EventBus, mode: str) -> None:
        self.executor = executor
        self.resolver = resolver
        self.bus = bus
        self.mode = mode

    def run(
        self,
        stage: Stage,
        script_name: str,
        config: BaseModel,
        packages: list[str],
        folder: Path,
        mounts: list[Path] = (),  # type: ignore[assignment]
        writable: list[Path] = (),  # type: ignore[assignment]
        env: dict[str, str] | None = None,
        helpers: tuple[str, ...] = (),
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f"{script_name}.py"
        shutil.copyfile(script(script_name), staged)
        for helper in helpers:  # other stage scripts it imports
            shutil.copyfile(script(helper), folder / f"{helper}.py")
        shutil.copyfile(CONFIGS_MODULE, folder / CONFIGS_MODULE.name)
        config_path = folder / f"{script_name}.config.json"
        tmp = config_path.with_suffix(".tmp")
        tmp.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(config_path)
        tail: list[str] = []
        default = {"stage_id": stage.id, "stage_kind": stage.kind, "name": stage.name}

        def on_output(line: str) -> None:
            if not self.bus.publish_line(line, default):
                tail.append(line)
                del tail[:-30]

        sources = self.resolver.sources(packages)
        if not any(s.name.lower() == "pydantic" for s in sources):
            sources.append(_pydantic_source())
        spec = StageSpec(
            name=f"{stage.kind}-{stage.id}",
            sources=sources,
            command=["python", str(staged), str(config_path)],
            workdir=folder,
            mounts=list(mounts),
            writable=list(writable),
            env=env or {},
            mode=self.mode,  # type: ignore[arg-type]
        )
        outcome = self.executor.run(spec, on_output)
        if not outcome.ok:
            detail = "\n".join(tail[-12:])
            raise StageError(f"{stage.name} exited with code {outcome.exit_code}:\n{detail}")
