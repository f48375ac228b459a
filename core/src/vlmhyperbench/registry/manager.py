"""RegistryManager: load every registry file, apply overlays, validate, cross-validate.

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
from vlmhb_v01 import PromptCollectionError, read_prompt_collection

from .models import (
    KINDS,
    DatasetEntry,
    ExperimentEntry,
    FrameworkEntry,
    InlineRun,
    MetricEntry,
    ModelEntry,
    PromptEntry,
    RunEntry,
    RunSpec,
    TaskEntry,
    template_variables,
)
from .overlay import merge
from .problems import Problem, RegistryError
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


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


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
        problems.append(Problem(path, line, _location(loc), message))
    return problems


class RegistryManager:
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
        problems += _CrossValidator(registry).check()
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
        if not folder.is_dir():
            return docs
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


class _CrossValidator:
    """Checks that every reference between entries resolves and fits."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.problems: list[Problem] = []

    def check(self) -> list[Problem]:
        r = self.registry
        for _name, item in r.entries["packages"].items():
            self._check_package(item)
        for item in r.entries["frameworks"].values():
            fw: FrameworkEntry = item.entry
            self._ref(item, ("adapter",), "packages", fw.adapter)
            for i, spec in enumerate(fw.specialised):
                self._ref(item, ("specialised", i, "adapter"), "packages", spec.adapter)
        for item in r.entries["tasks"].values():
            task: TaskEntry = item.entry
            self._metrics_fit(item, ("default_metrics",), task.default_metrics, task)
            for i, fw_name in enumerate(task.frameworks):
                self._ref(item, ("frameworks", i), "frameworks", fw_name)
        for item in r.entries["models"].values():
            self._check_model(item)
        for item in r.entries["datasets"].values():
            ds: DatasetEntry = item.entry
            self._ref(item, ("package",), "packages", ds.package)
            self._ref(item, ("task",), "tasks", ds.task)
            if ds.generator is not None:
                self._ref(item, ("generator", "package"), "packages", ds.generator.package)
            if ds.source is not None and "://" not in ds.source:
                path = Path(ds.source)
                path = path if path.is_absolute() else r.repo_root / path
                if not path.exists():
                    self._problem(
                        item, ("source",), f"expected an existing path, {path} does not exist"
                    )
        for item in r.entries["prompts"].values():
            prompt: PromptEntry = item.entry
            if prompt.collection_file:
                try:
                    r.prompt_collection(prompt)
                except PromptCollectionError as exc:
                    self._problem(item, ("collection_file",), str(exc))
        for item in r.entries["metrics"].values():
            metric: MetricEntry = item.entry
            self._ref(item, ("package",), "packages", metric.package)
        for item in r.entries["runs"].values():
            self._check_run(item, (), item.entry)
        for item in r.entries["experiments"].values():
            self._check_experiment(item)
        return self.problems

    # -- helpers ------------------------------------------------------------------------------
    def _problem(self, item: Loaded, loc: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem(*item.doc.locate(loc), _location(loc), message))

    def _ref(self, item: Loaded, loc: tuple[Any, ...], kind: str, name: str) -> bool:
        if name in self.registry.entries.get(kind, {}):
            return True
        known = ", ".join(self.registry.names(kind)) or "none"
        self._problem(
            item, loc, f"expected the name of a {kind} entry, got {name!r} (known: {known})"
        )
        return False

    def _check_package(self, item: Loaded) -> None:
        source = item.entry
        if source.type == "local":
            path = Path(source.path)
            path = path if path.is_absolute() else self.registry.repo_root / path
            if not (path / "pyproject.toml").is_file():
                self._problem(
                    item, ("path",), f"expected a package folder with pyproject.toml at {path}"
                )

    def _check_model(self, item: Loaded) -> None:
        model: ModelEntry = item.entry
        if model.framework is not None:
            self._ref(item, ("framework",), "frameworks", model.framework)
        if model.adapter is not None:
            self._ref(item, ("adapter",), "packages", model.adapter)
        if model.base_url is None and model.backend is None and model.framework is None:
            self._problem(
                item, ("backend",), "expected a backend name (or a framework that gives one)"
            )

    def _metrics_fit(
        self, item: Loaded, loc: tuple[Any, ...], metric_names: list[str], task: TaskEntry
    ) -> None:
        for i, metric_name in enumerate(metric_names):
            if not self._ref(item, (*loc, i), "metrics", metric_name):
                continue
            metric: MetricEntry = self.registry.get("metrics", metric_name)
            if task.output.kind not in metric.applies_to:
                self._problem(
                    item,
                    (*loc, i),
                    f"metric {metric_name!r} scores {'/'.join(metric.applies_to)} outputs, "
                    f"but task {task.name!r} outputs {task.output.kind}",
                )

    def _check_run(self, item: Loaded, loc: tuple[Any, ...], run: RunSpec) -> None:
        ok_task = self._ref(item, (*loc, "task"), "tasks", run.task)
        self._ref(item, (*loc, "model"), "models", run.model)
        ok_ds = self._ref(item, (*loc, "dataset"), "datasets", run.dataset)
        ok_prompt = self._ref(item, (*loc, "prompt"), "prompts", run.prompt)
        if not ok_task:
            return
        task: TaskEntry = self.registry.get("tasks", run.task)
        if run.model in self.registry.entries.get("models", {}) and task.frameworks:
            framework = self.registry.get("models", run.model).framework
            if framework is not None and framework not in task.frameworks:
                self._problem(
                    item,
                    (*loc, "model"),
                    f"model {run.model!r} is served by framework {framework!r}, but task "
                    f"{task.name!r} runs on {', '.join(task.frameworks)}",
                )
        if run.metrics is not None:
            self._metrics_fit(item, (*loc, "metrics"), run.metrics, task)
        if ok_ds:
            ds: DatasetEntry = self.registry.get("datasets", run.dataset)
            if ds.task != run.task:
                self._problem(
                    item,
                    (*loc, "dataset"),
                    f"dataset {run.dataset!r} is annotated for task {ds.task!r}, not {run.task!r}",
                )
        if ok_prompt:
            self._prompt_fits(
                item, (*loc, "prompt"), self.registry.get("prompts", run.prompt), task
            )

    def _prompt_fits(
        self, item: Loaded, loc: tuple[Any, ...], prompt: PromptEntry, task: TaskEntry
    ) -> None:
        if prompt.template is not None:
            unknown = sorted(
                set(template_variables(prompt.template)) - set(task.input.prompt_variables)
            )
            if unknown:
                self._problem(
                    item,
                    loc,
                    f"prompt {prompt.name!r} uses {{{', '.join(unknown)}}} but task {task.name!r} "
                    f"provides only {task.input.prompt_variables}",
                )
        if prompt.response_format == "json_schema" and task.output.kind != "json":
            self._problem(
                item,
                loc,
                f"prompt {prompt.name!r} asks for JSON but task {task.name!r} outputs {task.output.kind}",
            )

    def _check_experiment(self, item: Loaded) -> None:
        exp: ExperimentEntry = item.entry
        for i, run in enumerate(exp.runs):
            if isinstance(run, str):
                self._ref(item, ("runs", i), "runs", run)
            else:
                assert isinstance(run, InlineRun)
                self._check_run(item, ("runs", i), run)
        for i, report in enumerate(exp.reports):
            self._ref(item, ("reports", i), "reports", report)
        from ..executors import available_executors

        if exp.executor not in available_executors():
            self._problem(
                item,
                ("executor",),
                f"expected an installed executor ({', '.join(available_executors())}), got "
                f"{exp.executor!r}; executors are plugins: install e.g. vlmhb-{exp.executor}-executor",
            )
        if exp.matrix is None:
            return
        m = exp.matrix
        for i, model in enumerate(m.models):
            self._ref(item, ("matrix", "models", i), "models", model)
        good_datasets = [
            d
            for i, d in enumerate(m.datasets)
            if self._ref(item, ("matrix", "datasets", i), "datasets", d)
        ]
        if isinstance(m.prompts, dict):
            for ds_name, prompts in m.prompts.items():
                if ds_name not in m.datasets:
                    self._problem(
                        item,
                        ("matrix", "prompts", ds_name),
                        f"expected one of the matrix datasets {m.datasets}",
                    )
                for i, prompt in enumerate(prompts):
                    self._ref(item, ("matrix", "prompts", ds_name, i), "prompts", prompt)
            for ds_name in m.datasets:
                if ds_name not in m.prompts:
                    self._problem(
                        item, ("matrix", "prompts"), f"expected prompts for dataset {ds_name!r}"
                    )
        else:
            for i, prompt in enumerate(m.prompts):
                self._ref(item, ("matrix", "prompts", i), "prompts", prompt)
        for ds_name in good_datasets:
            task_name = self.registry.get("datasets", ds_name).task
            if task_name not in self.registry.entries["tasks"]:
                continue  # reported on the dataset's own file
            task: TaskEntry = self.registry.get("tasks", task_name)
            if m.metrics is not None:
                self._metrics_fit(item, ("matrix", "metrics"), m.metrics, task)
            prompts = m.prompts.get(ds_name, []) if isinstance(m.prompts, dict) else m.prompts
            for prompt_name in prompts:
                if prompt_name in self.registry.entries["prompts"]:
                    self._prompt_fits(
                        item, ("matrix", "prompts"), self.registry.get("prompts", prompt_name), task
                    )


__all__ = ["Registry", "RegistryError", "RegistryManager", "RunEntry", "run_mode"]
