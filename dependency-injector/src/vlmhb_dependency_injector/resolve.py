"""Resolving sources: turn what a registry entry says into exactly what gets installed.

A tag can move and ``>=1.2`` matches new releases over time, so an environment's identity
cannot be the registry text: a git ref is resolved to its commit, a PyPI specifier to one
version, a local folder to its absolute path (editable) or a hash of its content (built).
The result, a ``ResolvedSource``, is what the environment key is computed from and what is
recorded next to the environment.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from packaging.specifiers import SpecifierSet
from pydantic import BaseModel, ConfigDict

from .errors import InstallError, NetworkError, SourceError
from .interpreter import Interpreter
from .sources import GitSource, LocalSource, PypiSource
from .uvtool import looks_like_network_failure, run_uv, tail

Mode = Literal["dev", "prod"]
AnySource = LocalSource | GitSource | PypiSource

_SHA = re.compile(r"[0-9a-fA-F]{40}")
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?!//)(?P<path>.+)$")
# Folders that never belong to a package's content (caches, VCS data, build output).
_IGNORED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".venv",
    "venv",
    ".nox",
    ".tox",
    "build",
    "dist",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",  # hypothesis's example database changes on every test run
    "test-results",
    "playwright-report",
    "node_modules",
}


class ResolvedSource(BaseModel):
    """A source pinned to exactly one thing to install."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: Literal["local", "git", "pypi"]
    extras: tuple[str, ...] = ()
    editable: bool = False
    location: str | None = None
    """Absolute folder (local) or the URL uv installs from (git)."""
    pin: str | None = None
    """Commit sha (git) or exact version (pypi)."""
    subdirectory: str | None = None
    content_hash: str | None = None
    """sha256 of a non-editable local folder's files, or of an editable one's pyproject.toml."""

    def key_material(self) -> dict[str, object]:
        """What identifies this source in an environment key."""
        return self.model_dump(mode="json")

    def requirement(self, wheel: Path | None = None) -> list[str]:
        """Arguments for ``uv pip install`` (a built ``wheel`` for a non-editable local folder)."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        if self.type == "local":
            if self.editable:
                return ["-e", f"{self.location}{extras}"]
            if wheel is None:
                raise ValueError("a non-editable local source is installed from its built wheel")
            return [f"{self.name}{extras} @ {wheel.resolve().as_uri()}"]
        if self.type == "git":
            fragment = f"#subdirectory={self.subdirectory}" if self.subdirectory else ""
            return [f"{self.name}{extras} @ git+{self.location}@{self.pin}{fragment}"]
        return [f"{self.name}{extras}=={self.pin}"]

    def code_identity(self) -> dict[str, object]:
        """What identifies the *code* this source installs, for caching results made with it.

        Unlike ``key_material`` (which decides when an environment must be rebuilt), an
        editable folder is identified by its content here: an edit in dev mode changes what
        the code computes, so results made before the edit must not be reused.
        """
        if self.type == "local":
            assert self.location is not None
            return {"name": self.name, "type": "local", "content": folder_hash(Path(self.location))}
        if self.type == "git":
            return {"name": self.name, "type": "git", "commit": self.pin, "sub": self.subdirectory}
        return {"name": self.name, "type": "pypi", "version": self.pin}

    def mentions(self) -> list[str]:
        """Strings by which a tool's error output refers to this source."""
        found = {self.name.lower(), re.sub(r"[-_.]+", "_", self.name.lower())}
        found.add(re.sub(r"[-_.]+", "-", self.name.lower()))
        if self.location:
            found.add(self.location.lower())
        return sorted(found)


def resolve_sources(
    sources: Iterable[AnySource],
    *,
    mode: Mode,
    interpreter: Interpreter,
    base_dir: Path | None = None,
) -> list[ResolvedSource]:
    """Resolve every source; raise on the first that cannot be, naming it."""
    resolved = [
        resolve_source(s, mode=mode, interpreter=interpreter, base_dir=base_dir) for s in sources
    ]
    names = [r.name.lower() for r in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SourceError(duplicates, "listed more than once in the same environment")
    return sorted(resolved, key=lambda r: r.name.lower())


def resolve_source(
    source: AnySource, *, mode: Mode, interpreter: Interpreter, base_dir: Path | None = None
) -> ResolvedSource:
    """Resolve one source (see the module docstring for what each kind is pinned to)."""
    if isinstance(source, LocalSource):
        return _resolve_local(source, mode, base_dir)
    if isinstance(source, GitSource):
        return _resolve_git(source)
    if isinstance(source, PypiSource):
        return _resolve_pypi(source, interpreter)
    raise TypeError(f"not a dependency source: {source!r}")


# --- local ----------------------------------------------------------------------------------
def _resolve_local(source: LocalSource, mode: Mode, base_dir: Path | None) -> ResolvedSource:
    path = Path(source.path).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.is_dir():
        raise SourceError(
            source.name, f"local path {str(path)!r} does not exist or is not a folder"
        )
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        raise SourceError(
            source.name, f"local path {str(path)!r} has no pyproject.toml (expected a package)"
        )
    editable = source.editable if source.editable is not None else mode == "dev"
    # Editable: the code is read live, so only the path matters; the pyproject still counts
    # because a changed dependency list needs a new environment. Built: the content counts.
    digest = _file_hash(pyproject) if editable else folder_hash(path)
    return ResolvedSource(
        name=source.name,
        type="local",
        extras=source.extras,
        editable=editable,
        location=str(path),
        content_hash=digest,
    )


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_hash(folder: Path) -> str:
    """sha256 over the relative paths and bytes of a package folder's files (caches ignored)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            file = Path(root) / name
            digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


# --- git ------------------------------------------------------------------------------------
def uv_git_url(url: str) -> str:
    """The URL form uv's ``git+`` accepts: scp-like ``git@host:path`` and bare paths rewritten."""
    match = _SCP_LIKE.match(url)
    if match:
        return f"ssh://{match['user']}@{match['host']}/{match['path']}"
    if "://" not in url:
        return Path(url).expanduser().resolve().as_uri()
    return url


def _ls_remote(source: GitSource) -> dict[str, str]:
    import git  # GitPython; imported late so that resolving other kinds never needs git

    runner = git.cmd.Git()
    try:
        with runner.custom_environment(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true"):
            output = runner.ls_remote(source.url, kill_after_timeout=120)
    except git.GitCommandError as exc:
        stderr = str(exc.stderr or exc)
        kind = NetworkError if looks_like_network_failure(stderr) else SourceError
        raise kind(
            source.name, f"cannot read git repository {source.url!r}", tail(stderr, 5)
        ) from exc
    except git.GitCommandNotFound as exc:  # pragma: no cover - git is a documented requirement
        raise InstallError(source.name, "git is not installed") from exc
    refs: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, ref = line.partition("\t")
        refs[ref.strip()] = sha.strip()
    return refs


def _resolve_git(source: GitSource) -> ResolvedSource:
    refs = _ls_remote(source)
    ref = source.ref
    candidates = [f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref]
    sha = next((refs[c] for c in candidates if c in refs), None)
    if sha is None and _SHA.fullmatch(ref):
        sha = ref.lower()  # a full commit: uv fetches it, and fails naming it if it is missing
    if sha is None:
        tags = sorted(r.removeprefix("refs/tags/") for r in refs if r.startswith("refs/tags/"))
        known = ", ".join(t for t in tags if not t.endswith("^{}")) or "none"
        raise SourceError(
            source.name,
            f"git ref {ref!r} is neither a tag nor a branch of {source.url!r} "
            f"(a commit must be given in full, 40 hex digits); tags there: {known}",
        )
    return ResolvedSource(
        name=source.name,
        type="git",
        extras=source.extras,
        location=uv_git_url(source.url),
        pin=sha,
        subdirectory=source.subdirectory,
    )


# --- pypi -----------------------------------------------------------------------------------
def _exact_version(specifier: str) -> str | None:
    specs = list(SpecifierSet(specifier))
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _resolve_pypi(source: PypiSource, interpreter: Interpreter) -> ResolvedSource:
    pin = _exact_version(source.version)
    if pin is None:
        compiled = run_uv(
            [
                "pip",
                "compile",
                "-",
                "--no-deps",
                "--no-header",
                "--no-annotate",
                "--quiet",
                "--python",
                interpreter.executable,
            ],
            stdin=f"{source.name}{source.version}\n",
        )
        if compiled.returncode != 0:
            raise _pypi_error(source, compiled.stderr)
        wanted = re.sub(r"[-_.]+", "-", source.name.lower())
        for line in compiled.stdout.splitlines():
            name, sep, version = line.strip().partition("==")
            if sep and re.sub(r"[-_.]+", "-", name.lower()) == wanted:
                pin = version.strip()
        if pin is None:
            raise SourceError(source.name, f"uv resolved {source.version!r} to nothing")
    return ResolvedSource(name=source.name, type="pypi", extras=source.extras, pin=pin)


def _pypi_error(source: PypiSource, stderr: str) -> Exception:
    if looks_like_network_failure(stderr):
        return NetworkError(source.name, "cannot reach the package index", tail(stderr, 5))
    return SourceError(
        source.name,
        f"no release on the package index matches {source.version!r}",
        tail(stderr, 5),
    )
