"""Pydantic models of every registry kind: the single source of truth for what a file may say.

``vlmhb schema`` exports these as JSON Schema so editors can complete and check the files.
"""

from __future__ import annotations

from typing import Any

from .base import (
    NAME_PATTERN,
    Aggregator,
    Entry,
    Name,
    OutputKind,
)
from .benchmark import (
    DatasetEntry,
    DatasetGenerator,
    GenerationParams,
    MetricEntry,
    ModelEntry,
    PromptEntry,
    Resources,
    RetryPolicy,
    TaskEntry,
    TaskInput,
    TaskOutput,
    template_variables,
)
from .code import (
    FrameworkEntry,
    PackageEntry,
    SpecialisedAdapter,
)
from .endpoint import EndpointSpec, Price, RateLimits, ReasoningSpec
from .experiments import (
    ExperimentEntry,
    InlineRun,
    Matrix,
    ReportEntry,
    RunEntry,
    RunSpec,
    SampleFilters,
    StorageSpec,
)

KINDS: dict[str, Any] = {
    "packages": PackageEntry,
    "frameworks": FrameworkEntry,
    "tasks": TaskEntry,
    "models": ModelEntry,
    "datasets": DatasetEntry,
    "prompts": PromptEntry,
    "metrics": MetricEntry,
    "reports": ReportEntry,
    "runs": RunEntry,
    "experiments": ExperimentEntry,
}
"""Registry folder name -> model (packages is a discriminated union)."""

__all__ = [
    "KINDS",
    "NAME_PATTERN",
    "Aggregator",
    "DatasetEntry",
    "DatasetGenerator",
    "EndpointSpec",
    "Entry",
    "ExperimentEntry",
    "FrameworkEntry",
    "GenerationParams",
    "InlineRun",
    "Matrix",
    "MetricEntry",
    "ModelEntry",
    "Name",
    "OutputKind",
    "PackageEntry",
    "Price",
    "PromptEntry",
    "RateLimits",
    "ReasoningSpec",
    "ReportEntry",
    "Resources",
    "RetryPolicy",
    "RunEntry",
    "RunSpec",
    "SampleFilters",
    "SpecialisedAdapter",
    "StorageSpec",
    "TaskEntry",
    "TaskInput",
    "TaskOutput",
    "template_variables",
]
