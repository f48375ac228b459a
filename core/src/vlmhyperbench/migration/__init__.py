"""Bringing VLMHyperBench v0.1 users over: their data_dirs, vlm_base.csv and outputs."""

from .entries import ImportResult, PlannedEntry, user_overlay_dir, write_entries
from .v01 import V01Error, dataset_entry, model_entries, plan_v01_import, prompt_entry_name

__all__ = [
    "ImportResult",
    "PlannedEntry",
    "V01Error",
    "dataset_entry",
    "model_entries",
    "plan_v01_import",
    "prompt_entry_name",
    "user_overlay_dir",
    "write_entries",
]
