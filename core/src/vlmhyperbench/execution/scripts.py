"""Running a stage script through the executor: write its config into the stage folder, run
``python -m vlmhb_stages.<script>`` in an environment of the packages it needs plus
vlmhb-stages (the release the core runs), relay its events.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import vlmhb_stages
from pydantic import BaseModel
from vlmhb_dependency_injector import LocalSource, PypiSource

from ..executors import Executor, StageSpec
from .events import EventBus
from .identity import PackageResolver
from .stages import Stage


class StageError(RuntimeError):
    pass


def _pydantic_source() -> PypiSource:
    """Stage scripts read their config with pydantic: the same release the core runs."""
    version = importlib.metadata.version("pydantic")
    return PypiSource(type="pypi", name="pydantic", version=f"=={version}")


def _stages_source() -> LocalSource | PypiSource:
    """The stage scripts the core itself imports its configs from: a checkout's folder (editable
    in dev mode), else the same release from the index. Never another version."""
    folder = Path(vlmhb_stages.__file__).resolve().parents[2]
    if (folder / "pyproject.toml").is_file():
        return LocalSource(type="local", name="vlmhb-stages", path=str(folder))
    version = importlib.metadata.version("vlmhb-stages")
    return PypiSource(type="pypi", name="vlmhb-stages", version=f"=={version}")


class ScriptRunner:
    def __init__(
        self, executor: Executor, resolver: PackageResolver, bus: EventBus, mode: str
    ) -> None:
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
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
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

        sources = [*self.resolver.sources(packages), _stages_source()]
        if not any(s.name.lower() == "pydantic" for s in sources):
            sources.append(_pydantic_source())
        spec = StageSpec(
            name=f"{stage.kind}-{stage.id}",
            sources=sources,
            command=["python", "-m", f"vlmhb_stages.{script_name}", str(config_path)],
            output_dir=folder,
            mounts=list(mounts),
            writable=list(writable),
            env=env or {},
            mode=self.mode,  # type: ignore[arg-type]
        )
        outcome = self.executor.run(spec, on_output)
        if not outcome.ok:
            detail = "\n".join(tail[-12:])
            raise StageError(f"{stage.name} exited with code {outcome.exit_code}:\n{detail}")
