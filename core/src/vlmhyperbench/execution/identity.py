"""One identity for code and inputs: what names a stage's output folder.

A stage id is a content hash of its inputs plus the *resolved* identity of the packages it
runs: the git commit a tag points to now, the exact PyPI version a specifier resolves to, and
the content of a local folder (editable or not). So a moved tag, a new release or an edit of a
local package in dev mode changes the id and re-runs exactly the stages that use that code,
the same resolution that decides which environment gets built.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import tomllib
from pydantic import BaseModel

from ..registry import Registry


def canonical(obj: Any) -> Any:
    """A JSON-able, order-independent form of ``obj`` (models, mappings, paths)."""
    if isinstance(obj, BaseModel):
        return canonical(obj.model_dump(mode="json", by_alias=True))
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def content_hash(*parts: Any, length: int = 16) -> str:
    payload = json.dumps(canonical(list(parts)), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PackageResolver:
    """Registry package names -> the sources an environment holds, and their code identity.

    Sibling packages are not all on PyPI, so a local package's dependencies that the registry
    also knows (an adapter's ``vlmhb-api-wrapper``) join the same environment, from their
    registry source. Resolutions are cached: one ``git ls-remote`` per package per run.
    """

    def __init__(self, registry: Registry, env_manager: Any, mode: str) -> None:
        self.registry = registry
        self.env_manager = env_manager
        self.mode = mode
        self._by_normalised = {normalise(n): n for n in registry.names("packages")}
        self._identity: dict[str, Any] = {}

    def knows(self, name: str) -> bool:
        return normalise(name) in self._by_normalised

    def sources(self, names: list[str]) -> list[Any]:
        """The sources for ``names`` and every registry package they depend on, each once."""
        ordered: dict[str, Any] = {}
        pending = list(names)
        while pending:
            name = pending.pop(0)
            key = self._by_normalised.get(normalise(name))
            if key is None:
                raise KeyError(f"no packages entry named {name!r} in {self.registry.root}")
            if key in ordered:
                continue
            source = self.registry.get("packages", key)
            ordered[key] = self._absolute(source)
            pending += [d for d in self._declared_dependencies(source) if self.knows(d)]
        return list(ordered.values())

    def identity(self, names: list[str]) -> list[Any]:
        """Code identity of the packages a stage runs (see the module docstring), with the
        resolution cutoff that decides their third-party dependencies."""
        import os

        result: list[Any] = [{"name": "", "exclude_newer": os.environ.get("UV_EXCLUDE_NEWER")}]
        for source in self.sources(names):
            if source.name not in self._identity:
                resolved = self.env_manager.resolve([source], self.mode)[0]
                self._identity[source.name] = resolved.code_identity()
            result.append(self._identity[source.name])
        return sorted(result, key=lambda item: str(item["name"]))

    def _absolute(self, source: Any) -> Any:
        """Local paths anchored at the repository root, so any working directory works."""
        if source.type == "local" and not Path(source.path).is_absolute():
            path = (self.registry.repo_root / source.path).resolve()
            return source.model_copy(update={"path": str(path)})
        return source

    def _declared_dependencies(self, source: Any) -> list[str]:
        if source.type != "local":
            return []
        path = Path(self._absolute(source).path)
        try:
            project = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return []
        dependencies = project.get("project", {}).get("dependencies", [])
        return [re.split(r"[\s\[<>=!~;@]", dep, maxsplit=1)[0] for dep in dependencies]
