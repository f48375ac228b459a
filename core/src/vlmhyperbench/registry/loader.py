"""RegistryLoader: load every registry file, apply overlays, validate, cross-validate.

All problems are collected before anything is reported, so one ``vlmhb validate`` shows every
mistake with its file, line and field, instead of one traceback at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .cross_check import CrossValidator
from .models import (
    KINDS,
    PromptEntry,
)
from .overlay import merge
from .problems import Problem, RegistryError, location
from .prompt_collections import read_prompt_collection
from .yaml_source import YamlDocument, read_yaml

Mode = Literal["dev", "prod"]
OVERLAY_SUFFIX = ".dev.yaml"


def run_mode(explicit: str | None = None) -> Mode:
    """The mode from an explicit value, else RUN_MODE, else prod (the reproducible default)."""
    value = (explicit or os.environ.get("RUN_MODE") or "prod").lower()
    if value not in ("dev", "prod"):
        raise ValueError(f"RUN_MODE: expected 'dev' or 'prod', got {value!r}")
    return value  # type: ignore[return-value]


@dataclass
class Loaded:
    entry: Any
    doc: YamlDocument


class RegistrySettings(BaseModel):
    """``registries/settings.yaml``: what holds for every entry."""

    model_config = ConfigDict(extra="forbid")

    exclude_newer: datetime | None = Field(
        default=None,
        description="Third-party packages resolve as uploaded before this moment (uv's "
        "--exclude-newer), so the same registry installs the same versions next month.",
    )


SETTINGS_FILE = "settings.yaml"


@dataclass
class Registry:
    """Validated entries of every kind, by name, with the file each came from."""

    root: Path
    mode: Mode
    entries: dict[str, dict[str, Loaded]] = field(default_factory=dict)
    settings: RegistrySettings = field(default_factory=RegistrySettings)

    @property
    def repo_root(self) -> Path:
        """Relative package paths are resolved against the folder that holds registries/."""
        return self.root.parent

    def get(self, kind: str, name: str) -> Any:
        try:
            return self.entries[kind][name].entry
        except KeyError:
            raise KeyError(f"no {kind} entry named {name!r} in {self.root}") from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries.get(kind, {}))

    def file_of(self, kind: str, name: str) -> Path:
        return self.entries[kind][name].doc.path

    def prompt_collection(self, prompt: PromptEntry) -> dict[str, str]:
        """The prompt's collection, from the YAML and/or its CSV file."""
        collection = dict(prompt.collection or {})
        if prompt.collection_file:
            base = self.file_of("prompts", prompt.name).parent
            collection.update(read_prompt_collection(base / prompt.collection_file))
        return collection

    def add(self, kind: str, entry: Any, origin: Path) -> None:
        """Register an entry made at run time (e.g. from a user_config.csv row)."""
        self.entries.setdefault(kind, {})[entry.name] = Loaded(
            entry, YamlDocument(origin, None, None)
        )

    def summary(self) -> dict[str, int]:
        return {kind: len(self.entries.get(kind, {})) for kind in KINDS}


def _pydantic_problems(doc: YamlDocument, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        # Discriminated unions put the tag ('local', 'git', 'pypi') first in the path: drop it.
        loc = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and p in {"local", "git", "pypi"})
        )
        loc = tuple(
            p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
        )
        message = item["msg"]
        if item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown field (not allowed here)"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if item["type"] in {"literal_error", "union_tag_invalid"} and "expected" in item.get(
            "ctx", {}
        ):
            message = f"expected {item['ctx']['expected']}, got {item.get('input')!r}"
        path, line = doc.locate(loc)
        problems.append(Problem(path, line, location(loc), message))
    return problems


class RegistryLoader:
    """Loads ``registries/<kind>/<name>.yaml`` with overlays into a validated ``Registry``."""

    def __init__(
        self,
        root: Path | str,
        mode: Mode | None = None,
        overlay_dirs: list[Path] | None = None,
        extra_files: dict[str, list[Path]] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.mode: Mode = run_mode(mode)
        self.overlay_dirs = [Path(p).resolve() for p in overlay_dirs or []]
        #: kind -> single entry files from anywhere (``vlmhb run path/to/experiment.yaml``).
        self.extra_files = {
            k: [Path(p).resolve() for p in v] for k, v in (extra_files or {}).items()
        }

    # -- public -----------------------------------------------------------------------------
    def load(self) -> Registry:
        """Validated registry, or RegistryError listing every problem."""
        registry, problems = self.collect()
        if problems:
            raise RegistryError(problems, self.root.parent)
        return registry

    def collect(self) -> tuple[Registry, list[Problem]]:
        """Everything that validated, and every problem found."""
        problems: list[Problem] = []
        registry = Registry(root=self.root, mode=self.mode)
        if not self.root.is_dir():
            return registry, [Problem(self.root, None, "", "expected a registries folder")]
        registry.settings = self._settings(problems)
        for kind, model in KINDS.items():
            registry.entries[kind] = self._load_kind(kind, model, problems)
        unknown = sorted(
            p
            for p in self.root.iterdir()
            if p.is_dir() and p.name not in KINDS and not p.name.startswith(".")
        )
        for folder in unknown:
            problems.append(
                Problem(
                    folder, None, "", f"unknown registry kind; expected one of {', '.join(KINDS)}"
                )
            )
        problems += CrossValidator(registry).check()
        return registry, problems

    # -- loading ------------------------------------------------------------------------------
    def _settings(self, problems: list[Problem]) -> RegistrySettings:
        path = self.root / SETTINGS_FILE
        if not path.exists():
            return RegistrySettings()
        doc = read_yaml(path)
        if isinstance(doc, Problem):
            problems.append(doc)
            return RegistrySettings()
        try:
            return RegistrySettings.model_validate(doc.data or {})
        except ValidationError as exc:
            problems += _pydantic_problems(doc, exc)
            return RegistrySettings()

    def _documents(self, kind: str, problems: list[Problem]) -> dict[str, YamlDocument]:
        folder = self.root / kind
        docs: dict[str, YamlDocument] = {}
        # a kind the shipped registries lack (runs/) may still come from an overlay folder
        files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
        bases = [f for f in files if not f.name.endswith(OVERLAY_SUFFIX)]
        overlays = [f for f in files if f.name.endswith(OVERLAY_SUFFIX)]
        for path in bases:
            stem = path.name.rsplit(".", 1)[0]
            if stem in docs:
                problems.append(Problem(path, None, "", f"duplicate entry file for {stem!r}"))
                continue
            doc = read_yaml(path)
            if isinstance(doc, Problem):
                problems.append(doc)
                continue
            docs[stem] = doc
        for path in overlays:
            stem = path.name[: -len(OVERLAY_SUFFIX)]
            if stem not in docs and not (folder / f"{stem}.yaml").exists():
                problems.append(
                    Problem(
                        path, None, "", f"overlay without a base: expected {stem}.yaml beside it"
                    )
                )
                continue
            if self.mode == "dev" and stem in docs:
                self._apply_overlay(docs[stem], path, problems)
        for path in self.extra_files.get(kind, []):
            stem = path.name.rsplit(".", 1)[0]
            doc = read_yaml(path)
            if isinstance(doc, Problem):
                problems.append(doc)
            else:
                docs[stem] = doc  # a file named on the command line replaces an entry
        for overlay_dir in self.overlay_dirs:
            for path in sorted((overlay_dir / kind).glob("*.yaml")):
                stem = path.name.rsplit(".", 1)[0]
                if stem in docs:
                    self._apply_overlay(docs[stem], path, problems)
                else:
                    doc = read_yaml(path)
                    if isinstance(doc, Problem):
                        problems.append(doc)
                    else:
                        docs[stem] = doc
        return docs

    def _apply_overlay(self, doc: YamlDocument, path: Path, problems: list[Problem]) -> None:
        overlay = read_yaml(path)
        if isinstance(overlay, Problem):
            problems.append(overlay)
            return
        if not isinstance(overlay.data, dict):
            problems.append(Problem(path, 1, "", "expected a mapping of fields to override"))
            return
        doc.data = merge(doc.data, overlay.data)
        if overlay.node is not None:
            doc.overlays.append((path, overlay.node))

    def _load_kind(self, kind: str, model: Any, problems: list[Problem]) -> dict[str, Loaded]:
        adapter = TypeAdapter(model)
        loaded: dict[str, Loaded] = {}
        for stem, doc in self._documents(kind, problems).items():
            if doc.data is None:
                problems.append(
                    Problem(doc.path, 1, "", "file is empty; expected a mapping of fields")
                )
                continue
            if not isinstance(doc.data, dict):
                problems.append(
                    Problem(
                        doc.path,
                        1,
                        "",
                        f"expected a mapping of fields, got a {type(doc.data).__name__}",
                    )
                )
                continue
            data = dict(doc.data)
            data.setdefault("name", stem)
            if data["name"] != stem:
                problems.append(
                    Problem(
                        *doc.locate(("name",)),
                        "name",
                        f"expected {stem!r} (the file name), got {data['name']!r}",
                    )
                )
                continue
            try:
                entry = adapter.validate_python(data)
            except ValidationError as exc:
                problems += _pydantic_problems(doc, exc)
                continue
            loaded[stem] = Loaded(entry, doc)
        return loaded


RegistryManager = RegistryLoader
"""The loader's former name, kept importable: it loads, it manages nothing."""

__all__ = ["Registry", "RegistryError", "RegistryLoader", "RegistryManager", "run_mode"]
