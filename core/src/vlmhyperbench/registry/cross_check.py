"""Cross-validation: every reference between entries resolves and fits (a run's metrics suit
its task's output, a prompt's variables are ones the dataset provides...). Problems are
collected, like the loader's, as ``file:line: field: what was expected``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .models import (
    DatasetEntry,
    ExperimentEntry,
    FrameworkEntry,
    InlineRun,
    MetricEntry,
    ModelEntry,
    PromptEntry,
    RunSpec,
    TaskEntry,
    template_variables,
)
from .problems import Problem, location
from .prompt_collections import PromptCollectionError

if TYPE_CHECKING:
    from .loader import Loaded, Registry


class CrossValidator:
    """Checks that every reference between entries resolves and fits."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.problems: list[Problem] = []
        self._reports_checked: set[str] = set()

    def check(self) -> list[Problem]:
        r = self.registry
        for _name, item in r.entries["packages"].items():
            self._check_package(item)
        for item in r.entries["frameworks"].values():
            fw: FrameworkEntry = item.entry
            if fw.adapter is not None:
                self._ref(item, ("adapter",), "packages", fw.adapter)
            for i, spec in enumerate(fw.specialised):
                self._ref(item, ("specialised", i, "adapter"), "packages", spec.adapter)
        for item in r.entries["tasks"].values():
            task: TaskEntry = item.entry
            self._metrics_fit(item, ("default_metrics",), task.default_metrics, task)
            if task.main_metric is not None and task.main_metric not in task.default_metrics:
                self._problem(
                    item,
                    ("main_metric",),
                    f"expected one of default_metrics ({', '.join(task.default_metrics) or 'none'})"
                    f", got {task.main_metric!r}",
                )
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
        self.problems.append(Problem(*item.doc.locate(loc), location(loc), message))

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
            if self._ref(item, ("framework",), "frameworks", model.framework):
                self._framework_fits(item, model)
        elif model.endpoint is not None:
            self._problem(item, ("framework",), "an endpoint needs framework: openai-compatible")
        if model.adapter is not None:
            self._ref(item, ("adapter",), "packages", model.adapter)
        if model.base_url is None and model.backend is None and model.framework is None:
            self._problem(
                item, ("backend",), "expected a backend name (or a framework that gives one)"
            )

    def _framework_fits(self, item: Loaded, model: ModelEntry) -> None:
        """An openai-compatible framework's model names its endpoint; others do not."""
        kind = self.registry.get("frameworks", model.framework).kind
        if kind == "openai-compatible" and model.endpoint is None:
            self._problem(
                item,
                ("endpoint",),
                f"framework {model.framework!r} is openai-compatible: expected an endpoint "
                "(base_url, model, api_key_env or api_key_file)",
            )
        elif kind != "openai-compatible" and model.endpoint is not None:
            self._problem(
                item,
                ("endpoint",),
                f"framework {model.framework!r} starts its own server: an endpoint needs a "
                "framework of kind openai-compatible",
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

    def _report_installed(self, name: str) -> None:
        """A report entry an experiment lists must name an installed kind (reported once, on
        the entry's own file); one no experiment lists may belong to a plugin not installed
        here (the shipped ``v01`` report without vlmhb-v01)."""
        if name in self._reports_checked:
            return
        self._reports_checked.add(name)
        from vlmhb_reports import report_kinds

        report = self.registry.entries["reports"][name]
        installed = sorted(report_kinds())
        if report.entry.kind not in installed:
            self._problem(
                report,
                ("kind",),
                f"no installed report kind {report.entry.kind!r} "
                f"(installed: {', '.join(installed) or 'none'})",
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
            if self._ref(item, ("reports", i), "reports", report):
                self._report_installed(report)
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
