"""Registries: YAML entries of every kind, overlays (the user overlay included), validation,
cross-references and prompt collections."""

from .loader import Loaded, Registry, RegistryLoader, RegistryManager, run_mode
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
from .prompt_collections import PromptCollectionError, read_prompt_collection
from .schema import write_json_schemas
from .user_overlay import user_overlay_dir

__all__ = [
    "KINDS",
    "DatasetEntry",
    "ExperimentEntry",
    "FrameworkEntry",
    "Loaded",
    "MetricEntry",
    "ModelEntry",
    "Problem",
    "PromptCollectionError",
    "PromptEntry",
    "Registry",
    "RegistryError",
    "RegistryLoader",
    "RegistryManager",
    "ReportEntry",
    "RunEntry",
    "TaskEntry",
    "merge",
    "read_prompt_collection",
    "run_mode",
    "user_overlay_dir",
    "write_json_schemas",
]
