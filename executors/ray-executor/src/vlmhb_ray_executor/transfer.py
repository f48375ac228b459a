"""Stage folders through object storage, for a Ray cluster whose nodes share no filesystem.

Why: on separate hosts (KubeRay pods, cloud VMs) a stage's worker cannot read the driver's work
dir. With a storage URL configured, every folder a stage reads or writes travels through an
S3-compatible bucket with the data layer's sync (only new or changed files move, in both
directions): the driver pushes the stage's folders, the worker pulls them to the *same absolute
paths* on its own disk (stage configs and outputs name absolute paths, so the stage runs
unchanged), runs the stage, pushes what it wrote, and the driver pulls that back. The driver then
sees the stage folder exactly as after a local run, and its done marker is written after all
of this, by the driver, as always.

A folder's place in the bucket is its absolute path under ``<url>/fs``: one prefix per work dir
(two drivers whose work dirs have the same path must use two prefixes). The storage copy is
made equal to the driver's folder before every attempt (``delete="all"``), so files a killed
worker half-uploaded never reach a later attempt or the driver.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

FS_PREFIX = "fs"
"""Under the storage URL, folders are kept at ``fs/<absolute path>``."""
Delete = Literal["all", "none"]
"""How a copy is replaced: exactly (``all``: what the source lacks goes) or by adding to it."""
DEFAULT_ATTEMPTS = 6
"""Whole-folder attempts (each resumes the last): with the backoff below they ride out about
half a minute of storage outage (a restart) before the stage fails."""


@dataclass
class Moved:
    """What one transfer moved: files and bytes, and the seconds it took."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def add(self, other: Moved) -> Moved:
        self.files += other.files
        self.bytes += other.bytes
        self.seconds += other.seconds
        return self


@dataclass
class StageTransfer:
    """One stage attempt's traffic, by side and direction (for logs and the benchmark)."""

    stage: str
    driver_push: Moved = field(default_factory=Moved)
    worker_pull: Moved = field(default_factory=Moved)
    worker_push: Moved = field(default_factory=Moved)
    driver_pull: Moved = field(default_factory=Moved)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ObjectStore:
    """Where stage folders live between nodes: ``url`` (``s3://bucket/prefix``) on the S3
    server at ``endpoint_url`` (None: boto3's own settings on each node, e.g.
    ``AWS_ENDPOINT_URL``). Credentials are never part of it: each node reads its own (boto3's
    chain), so nothing secret travels in a Ray task's arguments."""

    url: str
    endpoint_url: str | None = None
    attempts: int = DEFAULT_ATTEMPTS
    backoff_s: float = 1.0

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        from vlmhb_data_layer import DataLayerError, parse_location

        try:
            location = parse_location(self.url)
        except DataLayerError as exc:
            raise ValueError(f"ray storage {self.url!r}: {exc}") from exc
        if location.scheme != "s3" or not location.bucket:
            raise ValueError(
                f"ray storage {self.url!r}: expected s3://BUCKET[/PREFIX] (any S3-compatible "
                "server; give it with the storage endpoint)"
            )
        if self.endpoint_url is not None:
            if "@" in urlsplit(self.endpoint_url).netloc:
                raise ValueError(
                    "ray storage endpoint: credentials in the URL would travel to every Ray "
                    "task; give each node AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY instead"
                )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def url_of(self, folder: str | Path) -> str:
        """The folder's place in the bucket: its absolute path under ``<url>/fs``."""
        return f"{self.url.rstrip('/')}/{FS_PREFIX}{Path(folder).absolute().as_posix()}"

    def push(self, folder: str | Path, *, delete: Delete = "all") -> Moved:
        """Make the bucket's copy of ``folder`` hold its files (only changed ones move);
        ``delete="all"`` also removes what the copy has and the folder has not."""
        root = Path(folder)
        if not root.is_dir():
            return Moved()
        started = time.monotonic()
        result = self._retrying(
            lambda manager: manager.mirror(str(root), self.url_of(root), delete=delete),
            f"uploading {root}",
        )
        sizes = sum(_size(root / key) for key in result.transferred)
        return Moved(len(result.transferred), sizes, time.monotonic() - started)

    def push_all(self, folders: list[tuple[Path, Delete]]) -> Moved:
        """``push`` each ``(folder, delete)`` of ``stage_inputs``/``stage_outputs``; the total."""
        moved = Moved()
        for folder, delete in folders:
            moved.add(self.push(folder, delete=delete))
        return moved

    def pull_all(self, folders: list[tuple[Path, Delete]]) -> Moved:
        """``pull`` each ``(folder, delete)`` of ``stage_inputs``/``stage_outputs``; the total."""
        moved = Moved()
        for folder, delete in folders:
            moved.add(self.pull(folder, delete=delete))
        return moved

    def pull(self, folder: str | Path, *, delete: Delete = "all") -> Moved:
        """Make ``folder`` (created if missing) hold the bucket's copy of it."""
        root = Path(folder)
        started = time.monotonic()
        result = self._retrying(
            lambda manager: manager.sync(self.url_of(root), root, delete=delete),
            f"downloading {root}",
        )
        sizes = sum(_size(root / key) for key in result.transferred)  # keys are relative
        return Moved(len(result.transferred), sizes, time.monotonic() - started)

    def _retrying(self, call: Any, what: str) -> Any:
        """Run a sync, again after a failure (each attempt resumes: only what is missing
        moves), waiting 1, 2, 4... s; the last failure is raised naming the folder."""
        from vlmhb_data_layer import DataLayerError, SmartSyncManager

        manager = SmartSyncManager(
            endpoint_url=self.endpoint_url, client=_s3_client(self.endpoint_url)
        )
        for attempt in range(1, self.attempts + 1):
            try:
                return call(manager)
            except DataLayerError as exc:
                if attempt == self.attempts:
                    raise StorageError(
                        f"ray storage: {what} failed {attempt} times; last: {exc}"
                    ) from exc
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")


@functools.cache
def _s3_client(endpoint_url: str | None) -> Any:
    """One boto3 client per endpoint and process (they are thread-safe): making one costs
    about a tenth of a second, and a stage moves up to a dozen folders."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


class StorageError(RuntimeError):
    """A stage folder could not be moved through the object storage (after retries)."""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def stage_inputs(spec: Any) -> list[tuple[Path, Delete]]:
    """Folders a stage reads (its output folder too: the driver put its config there, and a
    resumed stage finds what it did before), each copied exactly (``all``): driver to bucket
    before an attempt, bucket to worker at its start."""
    folders = [*spec.mounts, *spec.writable, spec.output_dir]
    return [(Path(folder), "all") for folder in folders]


def stage_outputs(spec: Any) -> list[tuple[Path, Delete]]:
    """Folders a stage writes, each with how its copy is replaced: the stage's own folder
    exactly (``all``), shared caches (``writable``) by adding to them (``none``)."""
    return [(Path(spec.output_dir), "all"), *((Path(w), "none") for w in spec.writable)]
