"""The environment cache: one uv virtual environment per content key, built once, reused.

Layout of the cache folder::

    <cache>/<key>/                 the virtual environment (bin/python, lib/...)
    <cache>/<key>/vlmhb-env.json   what it was built from (resolved sources, interpreter)
    <cache>/<key>/environment.lock exact installed versions (``uv pip freeze``)
    <cache>/<key>/vlmhb-wheels/    wheels built from local folders in prod mode
    <cache>/<key>/.vlmhb-ready     written last: without it the folder is half-built
    <cache>/.locks/<key>.lock      serialises builders of the same key across processes

Why a marker written last: a crash, a kill or a failed install can leave a folder that looks
like an environment; only the marker says the install completed, and a folder without it is
deleted and rebuilt, never used.

Who fills the folder is a *builder*: ``VenvBuilder`` (the default) runs uv on this machine;
``ContainerBuilder`` (``container.py``) runs the same steps inside a container of an image, so
the environment's interpreter is the image's. Both share everything else here: the key recipe,
the lock, the marker, the metadata, ``list()`` and ``prune()``; the metadata's ``builder``
field ("venv" or "container") says which one built a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field

from .errors import DependencyError, InstallError, NetworkError
from .interpreter import Interpreter, find_interpreter
from .resolve import AnySource, Mode, ResolvedSource, resolve_sources
from .uvtool import looks_like_network_failure, run_uv, tail

READY_MARKER = ".vlmhb-ready"
METADATA_FILE = "vlmhb-env.json"
LOCK_FILE = "environment.lock"
LAST_USED_FILE = ".vlmhb-last-used"
WHEELS_DIR = "vlmhb-wheels"
KEY_FORMAT = 1
"""Bumped when the key's recipe or the folder layout changes, so old folders are not reused."""


def default_cache_dir() -> Path:
    """``$VLMHB_ENV_CACHE``, else ``$XDG_CACHE_HOME/vlmhb/envs``, else ``~/.cache/vlmhb/envs``."""
    configured = os.environ.get("VLMHB_ENV_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "vlmhb" / "envs"


def environment_key(
    resolved: Iterable[ResolvedSource],
    interpreter: Interpreter | None = None,
    *,
    builder: Mapping[str, object] | None = None,
) -> str:
    """Content hash of everything that determines what an environment holds.

    ``interpreter`` is the host Python a venv is created from; ``builder`` is what else
    identifies where it is built (a container build gives its image id, which stands for the
    image's Python, platform and system libraries), so the same sources give different keys on
    the host and in each image. A venv build passes no ``builder``: its keys are unchanged.
    """
    material: dict[str, Any] = {
        "format": KEY_FORMAT,
        # uv resolves third-party packages as they were at this date when it is set (the
        # registry's settings.yaml): a different cutoff may give different versions.
        "exclude_newer": os.environ.get("UV_EXCLUDE_NEWER"),
        "python": None
        if interpreter is None
        else {
            "version": interpreter.version,
            "implementation": interpreter.implementation,
            "platform": interpreter.platform,
        },
        "sources": [r.key_material() for r in sorted(resolved, key=lambda r: r.name.lower())],
    }
    if builder is not None:
        material["builder"] = dict(builder)
    blob = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def _bin_dir(env_dir: Path) -> Path:
    return env_dir / ("Scripts" if sys.platform == "win32" else "bin")


def _python_in(env_dir: Path) -> Path:
    return _bin_dir(env_dir) / ("python.exe" if sys.platform == "win32" else "python")


class Builder(Protocol):
    """Fills an environment folder with the resolved sources; the manager does the rest.

    ``key`` gives the folder's content key (``environment_key`` with what identifies this
    builder's Python); ``build`` creates the environment in ``env_dir`` (an empty folder the
    manager made), writes ``environment.lock`` there, and returns metadata fields: at least
    ``python`` (a mapping with ``version``), plus anything the builder wants recorded. It raises
    a ``DependencyError`` naming the package at fault; the manager deletes the folder then.
    """

    kind: str

    def key(self, resolved: list[ResolvedSource]) -> str: ...

    def build(self, env_dir: Path, resolved: list[ResolvedSource]) -> dict[str, Any]: ...


class VenvBuilder:
    """A uv virtual environment on this machine, created from ``interpreter``."""

    kind = "venv"

    def __init__(self, interpreter: Interpreter) -> None:
        self.interpreter = interpreter

    def key(self, resolved: list[ResolvedSource]) -> str:
        return environment_key(resolved, self.interpreter)

    def build(self, env_dir: Path, resolved: list[ResolvedSource]) -> dict[str, Any]:
        names = [r.name for r in resolved]
        created = run_uv(["venv", str(env_dir), "--python", self.interpreter.executable])
        if created.returncode != 0:
            raise InstallError(names, "uv venv failed", tail(created.stderr))
        python = _python_in(env_dir)
        # Built wheels stay in the environment: the lock names them, so it must stay true.
        args: list[str] = []
        for source in resolved:
            wheel = None
            if source.type == "local" and not source.editable:
                wheel = _build_wheel(source, env_dir / WHEELS_DIR / source.name)
            args += source.requirement(wheel)
        if args:
            installed = run_uv(["pip", "install", "--python", str(python), *args])
            if installed.returncode != 0:
                raise install_error(resolved, installed.stderr)
        frozen = run_uv(["pip", "freeze", "--python", str(python)])
        if frozen.returncode != 0:
            raise InstallError(names, "uv pip freeze failed", tail(frozen.stderr))
        (env_dir / LOCK_FILE).write_text(frozen.stdout, encoding="utf-8")
        return {"python": self.interpreter.model_dump()}


class Environment(BaseModel):
    """A ready environment: where it is, its interpreter, and what it holds.

    A container-built environment (``builder == "container"``) runs only in containers of its
    ``image``, where its folder is mounted at the same path: its ``python`` is the image's.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    path: Path
    python: Path
    lock_text: str = Field(description="uv pip freeze output, the exact installed versions.")
    mode: Mode
    sources: list[ResolvedSource]
    python_version: str
    created_at: datetime
    builder: str = Field(default="venv", description="'venv' or 'container': who built it.")
    image: str | None = Field(default=None, description="The image a container build used.")
    image_id: str | None = None
    built_now: bool = Field(default=False, description="Built by this call (not reused).")

    @property
    def bin_dir(self) -> Path:
        return _bin_dir(self.path)

    def activate(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Process environment variables that run commands inside this environment.

        PYTHONHOME and PYTHONPATH of the caller are dropped: they would let the caller's
        packages leak into an environment whose point is isolation.
        """
        env = dict(os.environ if base is None else base)
        env.pop("PYTHONHOME", None)
        env.pop("PYTHONPATH", None)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = os.pathsep.join(p for p in (str(self.bin_dir), env.get("PATH", "")) if p)
        return env


class EnvironmentInfo(BaseModel):
    """One folder of the cache, as ``list()`` reports it."""

    key: str
    path: Path
    ready: bool
    builder: str | None = None
    image: str | None = None
    packages: list[str] = Field(default_factory=list)
    mode: str | None = None
    python_version: str | None = None
    created_at: datetime | None = None
    last_used: datetime | None = None


class EnvironmentManager:
    """Builds and reuses content-addressed environments under one cache folder.

    ``python`` is what ``uv venv --python`` accepts (a version such as ``"3.12"`` or a path);
    by default, the interpreter running this code. ``base_dir`` anchors relative local paths
    (by default the current directory). ``lock_timeout`` bounds how long a process waits for
    another one building the same environment. ``ensure`` and ``key`` take a ``builder``
    (default: a venv of ``python`` on this machine; see ``ContainerBuilder``).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        python: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        lock_timeout: float = 1800,
    ) -> None:
        # Absolute: a container build mounts environment folders at their own paths.
        cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.cache_dir = cache.absolute()
        self.python_request = python
        self.base_dir = Path(base_dir) if base_dir else None
        self.lock_timeout = lock_timeout

    # --- public API ---------------------------------------------------------------------
    @property
    def interpreter(self) -> Interpreter:
        return find_interpreter(self.python_request)

    def venv_builder(self) -> VenvBuilder:
        """The default builder: a uv venv of this manager's interpreter."""
        return VenvBuilder(self.interpreter)

    def resolve(self, sources: Iterable[AnySource], mode: Mode = "dev") -> list[ResolvedSource]:
        """Pin every source (git ref -> commit, specifier -> version, folder -> path/hash).

        PyPI specifiers are pinned for this manager's interpreter, also for a container build
        (the image's Python is only known once a container runs).
        """
        return resolve_sources(
            sources, mode=mode, interpreter=self.interpreter, base_dir=self.base_dir
        )

    def key(
        self, sources: Iterable[AnySource], mode: Mode = "dev", builder: Builder | None = None
    ) -> str:
        """The key the environment for these sources has (nothing is built)."""
        builder = builder or self.venv_builder()
        return builder.key(self.resolve(sources, mode))

    def ensure(
        self, sources: Iterable[AnySource], mode: Mode = "dev", builder: Builder | None = None
    ) -> Environment:
        """The ready environment holding ``sources``: reused if built, else built now.

        Raises a ``DependencyError`` naming the package at fault; nothing is left marked ready.
        """
        builder = builder or self.venv_builder()
        resolved = self.resolve(list(sources), mode)
        key = builder.key(resolved)
        env_dir = self.cache_dir / key
        ready = self.get(key)
        if ready is not None:
            return ready
        lock_dir = self.cache_dir / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_dir / f"{key}.lock"), timeout=self.lock_timeout)
        try:
            with lock:
                ready = self.get(key)  # another process may have built it while we waited
                if ready is not None:
                    return ready
                self._build(builder, env_dir, key, resolved, mode)
                built = self.get(key)
        except Timeout as exc:
            raise InstallError(
                [r.name for r in resolved],
                f"timed out after {self.lock_timeout:.0f} s waiting for another process "
                f"building environment {key}",
            ) from exc
        assert built is not None, "an environment was built without its ready marker"
        return built.model_copy(update={"built_now": True})

    def get(self, key: str) -> Environment | None:
        """The ready environment with this key, or None (half-built ones are not returned)."""
        env_dir = self.cache_dir / key
        marker = env_dir / READY_MARKER
        if not marker.is_file():
            return None
        meta = json.loads((env_dir / METADATA_FILE).read_text(encoding="utf-8"))
        try:  # best effort: prune uses it; a read-only cache is still usable
            (env_dir / LAST_USED_FILE).touch()
        except OSError:
            pass
        return Environment(
            key=key,
            path=env_dir,
            python=_python_in(env_dir),
            lock_text=(env_dir / LOCK_FILE).read_text(encoding="utf-8"),
            mode=meta["mode"],
            sources=meta["sources"],
            python_version=meta["python"]["version"],
            created_at=meta["created_at"],
            builder=meta.get("builder", "venv"),
            image=meta.get("image"),
            image_id=meta.get("image_id"),
        )

    def list(self) -> list[EnvironmentInfo]:
        """Every environment folder in the cache, ready or half-built, newest first."""
        if not self.cache_dir.is_dir():
            return []
        infos: list[EnvironmentInfo] = []
        for env_dir in self.cache_dir.iterdir():
            if not env_dir.is_dir() or env_dir.name.startswith("."):
                continue
            fields: dict[str, object] = {
                "key": env_dir.name,
                "path": env_dir,
                "ready": (env_dir / READY_MARKER).is_file(),
            }
            meta_file = env_dir / METADATA_FILE
            if fields["ready"] and meta_file.is_file():
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                fields["packages"] = [s["name"] for s in meta["sources"]]
                fields["mode"] = meta["mode"]
                fields["python_version"] = meta["python"]["version"]
                fields["created_at"] = meta["created_at"]
                fields["builder"] = meta.get("builder", "venv")
                fields["image"] = meta.get("image")
            used = env_dir / LAST_USED_FILE
            if used.is_file():
                fields["last_used"] = datetime.fromtimestamp(used.stat().st_mtime, timezone.utc)
            info = EnvironmentInfo.model_validate(fields)
            infos.append(info)
        epoch = datetime.fromtimestamp(0, timezone.utc)
        return sorted(infos, key=lambda i: i.created_at or epoch, reverse=True)

    def prune(
        self, keep_keys: Iterable[str] = (), older_than: timedelta | None = None
    ) -> list[str]:
        """Delete cached environments; return the keys deleted.

        Half-built folders are always deleted (unless being built right now). Ready ones are
        deleted unless their key is in ``keep_keys`` or, with ``older_than``, they were used
        more recently than that. An environment being built by another process is skipped.
        """
        keep = set(keep_keys)
        now = datetime.now(timezone.utc)
        removed: list[str] = []
        for info in self.list():
            if info.ready:
                if info.key in keep:
                    continue
                last = info.last_used or info.created_at
                if older_than is not None and last is not None and now - last < older_than:
                    continue
            lock = FileLock(str(self.cache_dir / ".locks" / f"{info.key}.lock"), timeout=0)
            try:
                with lock:
                    _remove_tree(info.path)
            except Timeout:
                continue  # someone is building it right now
            removed.append(info.key)
        return removed

    # --- building -----------------------------------------------------------------------
    def _build(
        self,
        builder: Builder,
        env_dir: Path,
        key: str,
        resolved: list[ResolvedSource],
        mode: Mode,
    ) -> None:
        if env_dir.exists():
            _remove_tree(env_dir)  # half-built by a crashed or failed builder: never reused
        env_dir.mkdir(parents=True)
        try:
            extra = builder.build(env_dir, resolved)
            if not (env_dir / LOCK_FILE).is_file():
                raise InstallError(
                    [r.name for r in resolved], f"the {builder.kind} build wrote no {LOCK_FILE}"
                )
            metadata = {
                "key": key,
                "mode": mode,
                "builder": builder.kind,
                **extra,
                "sources": [r.model_dump(mode="json") for r in resolved],
                "created_at": datetime.now(timezone.utc).isoformat(),
            }
            (env_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
            (env_dir / LAST_USED_FILE).touch()
            # The marker goes last, atomically: its presence means everything above completed.
            partial = env_dir / f"{READY_MARKER}.partial"
            partial.write_text(key, encoding="utf-8")
            os.replace(partial, env_dir / READY_MARKER)
        except BaseException:
            _remove_tree(env_dir)
            raise


def _build_wheel(source: ResolvedSource, out_dir: Path) -> Path:
    built = run_uv(["build", "--wheel", "--out-dir", str(out_dir), str(source.location)])
    wheels = sorted(out_dir.glob("*.whl")) if out_dir.is_dir() else []
    if built.returncode != 0 or not wheels:
        kind = NetworkError if looks_like_network_failure(built.stderr) else InstallError
        raise kind(source.name, f"building a wheel of {source.location} failed", tail(built.stderr))
    return wheels[-1]


def install_error(resolved: list[ResolvedSource], stderr: str) -> DependencyError:
    """Attribute a failed ``uv pip install`` to the sources its message mentions."""
    text = stderr.lower()
    culprits = [r.name for r in resolved if any(m in text for m in r.mentions())]
    culprits = culprits or [r.name for r in resolved]
    if looks_like_network_failure(stderr):
        return NetworkError(culprits, "cannot reach the package index or git remote", tail(stderr))
    if "failed to build" in text or "build backend" in text or "failed to prepare" in text:
        return InstallError(culprits, "the package failed to build", tail(stderr))
    if "no solution found" in text or "not found" in text:
        return InstallError(
            culprits, "no installable version matches (does that version exist?)", tail(stderr)
        )
    return InstallError(culprits, "uv pip install failed", tail(stderr))


def _remove_tree(path: Path) -> None:
    """Delete a folder; the ready marker goes first so a half-deleted folder is never used."""
    marker = path / READY_MARKER
    if marker.exists():
        marker.unlink()
    for attempt in range(3):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if attempt == 2:
                raise
            time.sleep(0.1)
