"""BenchmarkPlanner: an experiment becomes the whole graph of typed stages, ids included.

Ids follow one rule (see ``identity``): the stage's inputs, the resolved code identity of the
packages it runs, the hash of the core's own stage code, and the ids of its deps. A dataset's
identity is its entry, its package and generator code, the sample limit its runs ask for, and
for a local folder or file the content of its files (not their modification times: rewriting
identical data is a cache hit; not the pinned ``checksum`` either: pinning the data a sync
already prepared verifies it and re-runs nothing).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from vlmhb_dependency_injector import folder_hash
from vlmhb_stages import script_path
from vlmhb_stages.prepare_dataset import file_digest

from ..registry import DatasetEntry, ExperimentEntry, ModelEntry, Registry
from ..registry.models import GenerationParams, InlineRun, MetricEntry, RunSpec
from .identity import PackageResolver, content_hash
from .judges import JudgeConfigError, resolve_judges
from .stages import (
    EvalStage,
    InferStage,
    Plan,
    PlannedRun,
    ReportStage,
    ServeStage,
    Stage,
    SyncStage,
    UploadStage,
)

DEFAULT_REPORTS = ["leaderboard", "html-report"]


class PlanError(ValueError):
    """The experiment cannot be planned; the message names the entry and what is wrong."""


def _code_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: The core's own code that shapes each stage's result: editing it re-runs those stages.
INFER_CODE = _code_hash(
    *(
        Path(__file__).parent / n
        for n in ("inference_runner.py", "chat_request.py", "structured.py", "generation.py")
    )
)
SYNC_CODE = _code_hash(script_path("prepare_dataset"), script_path("configs"))
EVAL_CODE = _code_hash(script_path("evaluate"), script_path("configs"))


def _merged_generation(model: ModelEntry, run: RunSpec | None) -> GenerationParams:
    data = model.generation.model_dump(exclude_none=True)
    if run is not None:
        data.update(run.generation.model_dump(exclude_none=True))
    return GenerationParams(**data)


def local_content(path: Path) -> str | None:
    """The content identity of a local dataset: a folder's files (relative paths and bytes),
    or one file's bytes. Reading the data costs far less than the inference it keys."""
    if path.is_dir():
        return folder_hash(path)
    if path.is_file():
        return file_digest(path)  # as the sync stage hashes each image
    return None  # missing: the sync stage fails and names it


def sync_limit(dataset: DatasetEntry, runs: list[PlannedRun]) -> int | None:
    """How many samples the sync of ``dataset`` must prepare for ``runs`` (all of them: None).

    A run takes the first ``limit`` samples of the prepared data after its filters, so the
    sync may stop at the largest limit only when every run has one and none filters
    (``--limit 5`` on an HF dataset unpacks 5 pages, not every row's). A pinned ``checksum``
    is the whole dataset's fingerprint: to verify it the sync prepares every sample.
    """
    if dataset.checksum:
        return None
    if any(r.limit is None or r.filters.doc_class or r.filters.question_type for r in runs):
        return None
    return max(r.limit for r in runs if r.limit is not None)


class BenchmarkPlanner:
    """Plans experiments from a registry. ``resolver`` gives packages their code identity."""

    def __init__(self, registry: Registry, resolver: PackageResolver) -> None:
        self.registry = registry
        self.resolver = resolver

    # -- expansion ------------------------------------------------------------------------------
    def plan(self, experiment: str | ExperimentEntry, *, limit: int | None = None) -> Plan:
        if isinstance(experiment, str):
            try:
                experiment = self.registry.get("experiments", experiment)
            except KeyError:
                known = ", ".join(self.registry.names("experiments")) or "none"
                raise PlanError(
                    f"no experiment named {experiment!r} in {self.registry.root} (known: {known}); "
                    "pass a name or a path to an experiment YAML"
                ) from None
        runs = self._expand(experiment, limit)
        return self._graph(experiment, runs)

    def _expand(self, experiment: ExperimentEntry, limit: int | None) -> list[PlannedRun]:
        specs: list[tuple[RunSpec, str | None]] = []
        for item in experiment.runs:
            spec = self.registry.get("runs", item) if isinstance(item, str) else item
            specs.append((spec, getattr(spec, "name", None)))
        if experiment.matrix is not None:
            m = experiment.matrix
            for model_name in m.models:
                for ds_name in m.datasets:
                    dataset: DatasetEntry = self.registry.get("datasets", ds_name)
                    prompts = (
                        m.prompts.get(ds_name, []) if isinstance(m.prompts, dict) else m.prompts
                    )
                    for prompt_name in prompts:
                        spec = InlineRun(
                            task=dataset.task,
                            model=model_name,
                            dataset=ds_name,
                            prompt=prompt_name,
                            metrics=m.metrics,
                            aggregators=m.aggregators,
                            limit=m.limit,
                        )
                        specs.append((spec, None))
        runs = [self._from_spec(spec, name, limit) for spec, name in specs]
        names = [r.name for r in runs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PlanError(
                f"experiment {experiment.name!r} lists the same run twice: {duplicates}"
            )
        return runs

    def _metric(self, name: str) -> MetricEntry:
        """The metric entry, a judge metric's judges and rubric resolved (``judges.py``)."""
        try:
            return resolve_judges(self.registry.get("metrics", name), self.registry)
        except JudgeConfigError as exc:
            raise PlanError(str(exc)) from None

    def _from_spec(self, spec: RunSpec, name: str | None, limit: int | None) -> PlannedRun:
        r = self.registry
        task = r.get("tasks", spec.task)
        model = r.get("models", spec.model)
        prompt = r.get("prompts", spec.prompt)
        metric_names = spec.metrics if spec.metrics is not None else task.default_metrics
        limits = [x for x in (spec.limit, limit) if x is not None]
        return PlannedRun(
            name=name or f"{spec.model}__{spec.dataset}__{spec.prompt}",
            task=task,
            model=model,
            dataset=r.get("datasets", spec.dataset),
            prompt=prompt,
            prompt_collection=r.prompt_collection(prompt),
            metrics=[self._metric(m) for m in metric_names],
            aggregators=list(dict.fromkeys(["general", *spec.aggregators])),
            filters=spec.filters,
            limit=min(limits) if limits else None,
            generation=_merged_generation(model, spec),
            only_evaluate=spec.only_evaluate,
        )

    # -- the graph ------------------------------------------------------------------------------
    def _graph(self, experiment: ExperimentEntry, runs: list[PlannedRun]) -> Plan:
        stages: list[Stage] = []
        syncs: dict[str, SyncStage] = {}
        serves: dict[str, ServeStage] = {}
        for run in runs:
            if run.dataset.name not in syncs:
                users = [r for r in runs if r.dataset.name == run.dataset.name]
                syncs[run.dataset.name] = self.sync_stage(
                    run.dataset, sync_limit(run.dataset, users)
                )
            if run.model.name not in serves:
                serves[run.model.name] = self.serve_stage(run.model)
        stages += [*syncs.values(), *serves.values()]
        infers = [self.infer_stage(r, syncs[r.dataset.name], serves[r.model.name]) for r in runs]
        evals = [self.eval_stage(i) for i in infers]
        stages += [*infers, *evals]
        reports = [self.registry.get("reports", n) for n in experiment.reports or DEFAULT_REPORTS]
        report = ReportStage(
            id=content_hash("report", experiment.name, [e.id for e in evals], reports),
            name=f"report {experiment.name}",
            deps=[e.id for e in evals],
            experiment=experiment,
            evals=evals,
            reports=reports,
        )
        stages.append(report)
        if experiment.storage is not None:
            stages.append(
                UploadStage(
                    id=content_hash("upload", report.id, experiment.storage),
                    name=f"upload {experiment.name} -> {experiment.storage.uri}",
                    deps=[report.id],
                    storage=experiment.storage,
                    report=report,
                )
            )
        return Plan(experiment=experiment, runs=runs, stages=stages, resolver=self.resolver)

    def sync_stage(self, dataset: DatasetEntry, limit: int | None = None) -> SyncStage:
        max_images = self.registry.get("tasks", dataset.task).input.images
        packages = [dataset.package]
        generator_id = None
        local_state = None
        if dataset.generator is not None:
            packages.append(dataset.generator.package)
            generator_id = content_hash(
                dataset.generator, self.resolver.identity([dataset.generator.package])
            )
        elif dataset.source is not None and dataset.source.startswith("s3://"):
            packages.append("vlmhb-data-layer")
        elif dataset.source is not None:
            path = self.local_source(dataset)
            local_state = local_content(path)
        stage_id = content_hash(
            "sync",
            SYNC_CODE,
            dataset.model_dump(exclude={"name", "description", "metadata", "task", "checksum"}),
            self.resolver.identity(packages),
            local_state,
            max_images,
            limit,
        )
        return SyncStage(
            id=stage_id,
            name=f"sync {dataset.name}",
            deps=[],
            dataset=dataset,
            packages=packages,
            generator_id=generator_id,
            max_images=max_images,
            limit=limit,
        )

    def local_source(self, dataset: DatasetEntry) -> Path:
        path = Path((dataset.source or "").removeprefix("file://"))
        return path if path.is_absolute() else self.registry.repo_root / path

    def serve_stage(self, model: ModelEntry) -> ServeStage:
        adapter, backend = self.adapter_and_backend(model)
        packages = []
        if adapter is not None:
            packages.append(adapter)
            if self.resolver.knows("vlmhb-api-wrapper"):
                packages.append("vlmhb-api-wrapper")
        identity: Any = self.resolver.identity(packages) if packages else model.base_url
        # rate limits, price and the key's source change how answers are asked for or
        # billed, never what they are; an endpoint counts by its URL, model and snapshot
        stage_id = content_hash(
            "serve",
            model.model_dump(
                exclude={
                    "name",
                    "description",
                    "metadata",
                    "concurrency",
                    "env",
                    "retries",
                    "endpoint",
                    "rate_limits",
                    "price",
                    "reasoning",
                }
            ),
            identity,
            backend,
            *([model.endpoint.identity] if model.endpoint is not None else []),
        )
        return ServeStage(
            id=stage_id,
            name=f"check endpoint {model.name}" if model.endpoint else f"serve {model.name}",
            deps=[],
            model=model,
            adapter=adapter,
            backend=backend,
            packages=packages,
        )

    def infer_stage(self, run: PlannedRun, sync: SyncStage, serve: ServeStage) -> InferStage:
        stage_id = content_hash(
            "infer",
            INFER_CODE,
            serve.id,
            sync.id,
            run.prompt.model_dump(
                exclude={"name", "description", "metadata", "collection", "collection_file"}
            ),
            run.prompt_collection,
            run.task.output,
            run.generation,
            run.filters,
            run.limit,
            *([run.model.reasoning] if run.model.reasoning.think_tags else []),
        )
        return InferStage(
            id=stage_id,
            name=f"infer {run.label()}",
            deps=[sync.id, serve.id],
            run=run,
            sync=sync,
            serve=serve,
        )

    def eval_stage(self, infer: InferStage) -> EvalStage:
        run = infer.run
        packages = list(dict.fromkeys(m.package for m in run.metrics))
        stage_id = content_hash(
            "eval",
            EVAL_CODE,
            infer.id,
            [(m.key, m.column, m.params, m.entry_point, m.callable) for m in run.metrics],
            self.resolver.identity(
                [
                    *packages,
                    *(["vlmhb-statistics"] if self.resolver.knows("vlmhb-statistics") else []),
                ]
            ),
            run.aggregators,
            run.task.output,
        )
        return EvalStage(
            id=stage_id,
            name=f"eval {run.label()}",
            deps=[infer.id],
            run=run,
            infer=infer,
            packages=packages,
        )

    def adapter_and_backend(self, model: ModelEntry) -> tuple[str | None, str | None]:
        """The model's own adapter/backend, else its framework's (specialised by name)."""
        adapter, backend = model.adapter, model.backend
        if model.framework is not None:
            framework = self.registry.get("frameworks", model.framework)
            if framework.kind == "openai-compatible":
                return None, None  # an endpoint: nothing to install or start
            chosen = (framework.adapter, framework.backend)
            engine = model.load_config.get("engine")
            for spec in framework.specialised:
                by_name = spec.model_name_pattern and re.search(spec.model_name_pattern, model.name)
                by_engine = spec.engine is not None and spec.engine == engine
                if by_name or by_engine:
                    chosen = (spec.adapter, spec.backend)
                    break
            adapter = adapter or chosen[0]
            backend = backend or chosen[1]
        return adapter, backend
