"""Entries that compose the others: reports, runs and experiments."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Aggregator, Entry, Name
from .benchmark import GenerationParams


# --- reports --------------------------------------------------------------------------------
class ReportEntry(Entry):
    """One output of the report stage; an experiment lists the ones it wants."""

    kind: str = Field(
        description="A report kind installed in the entry-point group vlmhyperbench.reports: "
        "leaderboard (CSV + Markdown table) and html (report.html with Plotly figures) come "
        "with vlmhb-reports, v01 (ModelsAnswers/ and ModelsMetrics/ as VLMHyperBench v0.1 "
        "wrote them) with vlmhb-v01. Checked when an experiment lists the entry, so a "
        "registry may carry entries for report plugins not installed here."
    )


# --- runs and experiments -------------------------------------------------------------------
class SampleFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_class: list[str] | None = None
    question_type: list[str] | None = None


class RunSpec(BaseModel):
    """What a run is made of: shared by run files and inline experiment runs."""

    model_config = ConfigDict(extra="forbid")

    task: str
    model: str
    dataset: str
    prompt: str
    metrics: list[str] | None = Field(default=None, description="Default: the task's metrics.")
    aggregators: list[Aggregator] = Field(default_factory=lambda: ["general"])
    filters: SampleFilters = Field(default_factory=SampleFilters)
    limit: int | None = Field(default=None, gt=0)
    generation: GenerationParams = Field(default_factory=GenerationParams)
    only_evaluate: bool = Field(default=False, description="Re-score existing answers only.")


class RunEntry(Entry, RunSpec):
    model_config = ConfigDict(extra="forbid")


class InlineRun(RunSpec):
    name: Name | None = None


class Matrix(BaseModel):
    """models x datasets x prompts; each dataset brings its task."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(min_length=1)
    datasets: list[str] = Field(min_length=1)
    prompts: list[str] | dict[str, list[str]] = Field(
        description="Prompt names for every dataset, or dataset name -> prompt names."
    )
    metrics: list[str] | None = None
    aggregators: list[Aggregator] = Field(default_factory=lambda: ["general"])
    limit: int | None = Field(default=None, gt=0)


class StorageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uri: str = Field(pattern=r"^(s3://[^/]+(/.*)?|file://.+|/.+)$")
    endpoint_url: str | None = None
    region: str | None = Field(default=None, description="Passed as AWS_DEFAULT_REGION.")


class ExperimentEntry(Entry):
    runs: list[str | InlineRun] = Field(default_factory=list)
    matrix: Matrix | None = None
    reports: list[str] = Field(default_factory=list)
    executor: str = Field(
        default="local", description="Executor plugin name (local, docker, ray...)."
    )
    parallelism: int = Field(
        default=1,
        gt=0,
        description="Models served and queried at once (each its own server). Above 1, their "
        "latencies share the machine: use 1 when comparing speed.",
    )
    storage: StorageSpec | None = None

    @model_validator(mode="after")
    def _has_runs(self) -> ExperimentEntry:
        if not self.runs and self.matrix is None:
            raise ValueError("expected 'runs' or 'matrix'")
        return self
