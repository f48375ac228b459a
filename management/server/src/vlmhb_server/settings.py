"""Server settings: one object built from the command line (or by tests and embedders)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: the database URL reaches an experiment worker in its environment (readable by the server's
#: user only), never on its command line (readable by every user in ``ps``)
DATABASE_URL_ENV = "VLMHB_WORKER_DATABASE_URL"


def private_dir(path: Path) -> Path:
    """``path`` as a folder; created here, it is the server user's alone (0700): it holds the
    database, experiment specs and worker logs. An existing folder keeps its mode."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    return path


def default_database_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{Path(workdir).resolve() / 'server.sqlite'}"


@dataclass
class Settings:
    """What the server needs to know; every path is resolved once, here."""

    workdir: Path = Path(".work")
    registries: Path = Path("registries")
    database_url: str | None = None
    mode: str | None = field(default_factory=lambda: os.environ.get("RUN_MODE"))
    #: experiments run at once, each in its own worker process
    max_concurrent: int = 1
    #: requeue experiments a previous server left interrupted
    resume_interrupted: bool = True
    #: executor plugin for runs (None: what the experiment names)
    executor: str | None = None
    #: events buffered per WebSocket client before a slow one is disconnected
    ws_queue_size: int = 1000
    #: how often the event feed looks for events written by workers
    poll_interval_s: float = 0.1
    #: the worker's Python module (a test may name a scripted stand-in for the core's run)
    worker_module: str = "vlmhb_server.worker"
    #: tokens accepted besides the database's (e.g. VLMHB_SERVER_TOKEN)
    tokens: list[str] = field(default_factory=list)
    #: server processes answering the API (one of them supervises the queue)
    workers: int = 1
    #: apply migrations when the app starts (the CLI migrates once before starting workers)
    migrate_on_start: bool = True
    #: how often a process that does not supervise the queue tries to take over
    leader_retry_s: float = 1.0
    #: the largest request body accepted (JSON, YAML, multipart uploads alike)
    max_body_bytes: int = 4 * 1024 * 1024
    #: folders ``POST /api/import`` may import from (empty: the work dir only)
    import_roots: list[Path] = field(default_factory=list)
    #: storage URI prefixes a submitted experiment may name besides its registry entry's own
    #: (``s3://bucket/prefix``, ``/srv/results``); nothing else is accepted from a request
    storage_allow: list[str] = field(default_factory=list)
    #: S3 endpoints a submitted experiment may name besides its registry entry's own
    storage_endpoints: list[str] = field(default_factory=list)
    #: the most models a submitted experiment may serve at once (``parallelism``)
    max_parallelism: int = 8

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.registries = Path(self.registries).resolve()
        self.import_roots = [Path(p).expanduser().resolve() for p in self.import_roots] or [
            self.workdir
        ]
        if not self.database_url:
            self.database_url = default_database_url(self.workdir)
        env_token = os.environ.get("VLMHB_SERVER_TOKEN")
        if env_token and env_token not in self.tokens:
            self.tokens.append(env_token)

    @property
    def url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @property
    def server_dir(self) -> Path:
        """The server's own files in the work dir: specs, worker logs, event files."""
        return self.workdir / "server"

    @property
    def prompt_collections(self) -> Path:
        """Where prompt collection CSVs that a submitted user_config names by path are read
        from (the v0.1 layout the core searches above the config: ``data_dirs/...``)."""
        return self.workdir / "data_dirs" / "PromptCollections"

    @property
    def leader_lock(self) -> Path:
        """The file lock whose holder supervises the queue (see ``vlmhb_server.supervisor_lock``)."""
        return self.server_dir / "supervisor.lock"

    def to_json(self) -> str:
        """For the worker processes of ``--workers N`` (tokens stay in the environment)."""
        data = {k: v for k, v in asdict(self).items() if k != "tokens"}
        return json.dumps(data, default=str)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**json.loads(text))

    def create_dirs(self) -> None:
        """The work dir and the server's folder in it, private when created here."""
        private_dir(self.workdir)
        private_dir(self.server_dir)

    def experiment_dir(self, experiment_id: int) -> Path:
        return self.server_dir / "experiments" / str(experiment_id)
