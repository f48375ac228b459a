"""Registries: YAML entries of every kind, overlays, validation and cross-references."""

from .manager import Loaded, Registry, RegistryManager, run_mode
from .models import (
    KINDS,
    DatasetEntry,
    ExperimentEntry,
    FrameworkEntry,
    MetricEntry,
    ModelEntry,
    PromptEntry,
    ReportEntry,
    RunEntry,
    TaskEntry,
)
from .overlay import merge
from .problems import Problem, RegistryError
from .schema import write_json_schemas

__all__ = [
    "KINDS",
    "DatasetEntry",
    "ExperimentEntry",
    "FrameworkEntry",
    "Loaded",
    "MetricEntry",
    "ModelEntry",
    "Problem",
    "PromptEntry",
    "Registry",
    "RegistryError",
    "RegistryManager",
    "ReportEntry",
    "RunEntry",
    "TaskEntry",
    "merge",
    "run_mode",
    "write_json_schemas",
]
