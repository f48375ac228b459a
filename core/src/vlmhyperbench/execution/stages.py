"""The stages of a plan: one type per kind, each knowing its inputs, its id and its deps.

``sync(dataset) -> serve(model) -> infer(run) -> eval(run) -> report(experiment) -> upload``.
Ids are content hashes computed by the planner from the stage's inputs and the ids of the
stages it depends on (a Merkle graph), so the whole graph and every output folder are known
before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..registry import (
    DatasetEntry,
    ExperimentEntry,
    MetricEntry,
    ModelEntry,
    PromptEntry,
    ReportEntry,
    TaskEntry,
)
from ..registry.models import GenerationParams, SampleFilters, StorageSpec


@dataclass
class PlannedRun:
    """One model x dataset x prompt (x task): what a leaderboard row is about."""

    name: str
    task: TaskEntry
    model: ModelEntry
    dataset: DatasetEntry
    prompt: PromptEntry
    prompt_collection: dict[str, str]
    metrics: list[MetricEntry]
    aggregators: list[str]
    filters: SampleFilters
    limit: int | None
    generation: GenerationParams
    only_evaluate: bool = False

    def label(self) -> str:
        return f"{self.model.name} / {self.dataset.name} / {self.prompt.name}"


@dataclass(eq=False)
class Stage:
    kind: ClassVar[str]
    #: Cached stages are skipped when their folder holds the done marker; others always run.
    cacheable: ClassVar[bool] = True
    id: str
    name: str
    deps: list[str]


@dataclass(eq=False)
class SyncStage(Stage):
    kind: ClassVar[str] = "sync"
    dataset: DatasetEntry = field(kw_only=True)
    packages: list[str] = field(kw_only=True)
    generator_id: str | None = field(default=None, kw_only=True)
    max_images: int | None = field(default=None, kw_only=True)
    #: The first ``limit`` samples only (see ``planner.sync_limit``).
    limit: int | None = field(default=None, kw_only=True)


@dataclass(eq=False)
class ServeStage(Stage):
    """The model's server: started lazily, only when one of its infer stages has work."""

    kind: ClassVar[str] = "serve"
    cacheable: ClassVar[bool] = False
    model: ModelEntry = field(kw_only=True)
    adapter: str | None = field(kw_only=True)
    backend: str | None = field(kw_only=True)
    packages: list[str] = field(kw_only=True)


@dataclass(eq=False)
class InferStage(Stage):
    kind: ClassVar[str] = "infer"
    run: PlannedRun = field(kw_only=True)
    sync: SyncStage = field(kw_only=True)
    serve: ServeStage = field(kw_only=True)


@dataclass(eq=False)
class EvalStage(Stage):
    kind: ClassVar[str] = "eval"
    run: PlannedRun = field(kw_only=True)
    infer: InferStage = field(kw_only=True)
    packages: list[str] = field(kw_only=True)


@dataclass(eq=False)
class ReportStage(Stage):
    kind: ClassVar[str] = "report"
    cacheable: ClassVar[bool] = False
    experiment: ExperimentEntry = field(kw_only=True)
    evals: list[EvalStage] = field(kw_only=True)
    reports: list[ReportEntry] = field(kw_only=True)


@dataclass(eq=False)
class UploadStage(Stage):
    kind: ClassVar[str] = "upload"
    cacheable: ClassVar[bool] = False
    storage: StorageSpec = field(kw_only=True)
    report: ReportStage = field(kw_only=True)


@dataclass
class Plan:
    """The whole graph, in an order where every stage comes after its deps."""

    experiment: ExperimentEntry
    runs: list[PlannedRun]
    stages: list[Stage]
    #: The PackageResolver the ids were computed with: running the plan reuses its resolutions
    #: (no second git ls-remote or folder hashing per package).
    resolver: Any = field(default=None, repr=False, compare=False)

    def of(self, cls: type[Stage]) -> list:
        return [s for s in self.stages if isinstance(s, cls)]

    @property
    def syncs(self) -> list[SyncStage]:
        return self.of(SyncStage)

    @property
    def serves(self) -> list[ServeStage]:
        return self.of(ServeStage)

    @property
    def infers(self) -> list[InferStage]:
        return self.of(InferStage)

    @property
    def evals(self) -> list[EvalStage]:
        return self.of(EvalStage)

    @property
    def report(self) -> ReportStage:
        return self.of(ReportStage)[0]

    @property
    def upload(self) -> UploadStage | None:
        found = self.of(UploadStage)
        return found[0] if found else None

    @property
    def models(self) -> list[ModelEntry]:
        return [s.model for s in self.serves]

    @property
    def datasets(self) -> list[DatasetEntry]:
        return [s.dataset for s in self.syncs]


@dataclass
class RunResult:
    """What one run ended with: its stage ids, scores (``metrics.json``) and first error."""

    run: PlannedRun
    infer_id: str | None = None
    eval_id: str | None = None
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    complete: bool = True
