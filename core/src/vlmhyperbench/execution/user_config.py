"""``vlmhb run --user-config``: a v0.1 ``user_config.csv`` as an experiment.

The resolution of the rows (names, frameworks, tasks, prompt collections, every problem at
once) lives in ``vlmhb_v01.resolve_user_config`` and works on plain data; this adapter only
shows it the registry and validates what it returns into the registry's models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmhb_v01 import V01_REPORTS, UserConfigError, resolve_user_config

from ..registry import Registry
from ..registry.models import ExperimentEntry, PromptEntry

__all__ = ["V01_REPORTS", "UserConfigError", "experiment_from_user_config"]


class _RegistryView:
    """``vlmhb_v01.RegistryView`` over a loaded registry: entries as dicts, prompt
    collections with their CSV files already read."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def names(self, kind: str) -> list[str]:
        return self.registry.names(kind)

    def entry(self, kind: str, name: str) -> dict[str, Any]:
        entry = self.registry.get(kind, name)
        data = entry.model_dump()
        if isinstance(entry, PromptEntry):
            data["collection"] = self.registry.prompt_collection(entry)
        return data


def experiment_from_user_config(
    path: Path, registry: Registry
) -> tuple[ExperimentEntry, dict[str, PromptEntry]]:
    """An experiment with one inline run per row, plus prompt entries the rows bring along.

    Raises ``UserConfigError`` listing every problem of every row.
    """
    experiment, prompts = resolve_user_config(Path(path), _RegistryView(registry))
    entry = ExperimentEntry.model_validate(experiment)
    return entry, {name: PromptEntry.model_validate(data) for name, data in prompts.items()}
