"""What an executor is given and gives back: the stage and service specs, a stage's outcome
and the context an executor factory is called with.

Stages talk to the core only through files and JSON-lines on stdout, so the same stage runs
unchanged in a local uv venv, a container or a Ray worker. Host paths are mounted at the same
absolute paths inside a container, so a stage config written with host paths works in all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from vlmhb_dependency_injector.sources import GitSource, LocalSource, PypiSource

Source = LocalSource | GitSource | PypiSource


class StageSpec(BaseModel):
    """Everything needed to run one stage process."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Stage name, used in logs and container/task names.")
    sources: list[Source] = Field(description="Packages the stage's environment must hold.")
    command: list[str] = Field(
        description="argv run inside the environment; 'python' means the env's interpreter."
    )
    output_dir: Path = Field(description="Host folder for the stage's outputs (read-write).")
    mounts: list[Path] = Field(
        default_factory=list, description="Extra host folders the stage reads (read-only)."
    )
    writable: list[Path] = Field(
        default_factory=list,
        description="Extra host folders the stage writes (read-write), e.g. a shared cache.",
    )
    env: dict[str, str] = Field(default_factory=dict)
    gpus: int | None = Field(default=None, description="GPUs to pass through, or None.")
    mode: Literal["dev", "prod"] = "dev"
    timeout_s: float | None = None


class StageOutcome(BaseModel):
    exit_code: int
    environment_key: str = Field(description="Content hash of the environment the stage ran in.")
    lock: str = Field(description="Exact installed versions (uv pip freeze) of that environment.")
    output_tail: list[str] = Field(default_factory=list, description="Last lines of output.")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class ServiceSpec(BaseModel):
    """A long-running process that serves HTTP on a port (a model's API wrapper).

    ``command`` must make the server listen on ``port`` on the address the executor chooses
    (``{host}`` and ``{port}`` in the command are replaced by the executor). Secrets are
    handed over as files the process reads, never on its command line or in a container's
    environment (so ``ps`` and ``docker inspect`` do not show them), and never serialised in
    clear: an executor that sends the spec elsewhere (a Ray worker) writes the files first and
    sends ``services.with_secret_files(spec)``, which holds no secret.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Service name, e.g. 'serve-<stage id>'.")
    sources: list[Source]
    command: list[str] = Field(description="argv; '{host}' and '{port}' are substituted.")
    log_dir: Path = Field(description="Host folder for the server's log and config (rw).")
    mounts: list[Path] = Field(default_factory=list, description="Read-only data folders.")
    env: dict[str, str] = Field(default_factory=dict, description="Non-secret environment.")
    secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="name -> value, delivered as files (``{secret:NAME}`` in the command is "
        "the file's path). Secret types: a dump or repr of the spec shows '**********', never "
        "the value.",
    )
    gpus: int = 0
    cpus: float | None = None
    memory_gb: float | None = None
    mode: Literal["dev", "prod"] = "dev"
    labels: dict[str, str] = Field(default_factory=dict)
    image: str | None = Field(default=None, description="Container image (docker), if any.")


class ExecutorContext(BaseModel):
    """What an executor factory gets: where environments live and what the run asked for."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    env_manager: Any = Field(description="vlmhb_dependency_injector.EnvironmentManager")
    repo_root: Path
    workdir: Path
    options: dict[str, Any] = Field(default_factory=dict, description="e.g. ray_address")


__all__ = [
    "ExecutorContext",
    "ServiceSpec",
    "Source",
    "StageOutcome",
    "StageSpec",
]
