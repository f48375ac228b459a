"""``vlmhb run --user-config``: a v0.1 ``user_config.csv`` as an experiment.

The core does not read v0.1 files: the reader is a plugin, found through the entry-point group
``vlmhyperbench.user_config`` (``v01``, from vlmhb-v01). It resolves the rows (names,
frameworks, tasks, prompt collections, every problem at once) on plain data; this adapter
shows it the registry through ``_RegistryView`` and validates what it returns into the
registry's models.

The reader's contract: ``resolve(path, view) -> (experiment, prompts)``, plain dicts (the
experiment entry, and the new prompt entries by name); bad cells raise a ``ValueError`` whose
``problems`` attribute lists every problem, one line each (re-raised here as
:class:`UserConfigError`).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..registry import Registry
from ..registry.models import ExperimentEntry, PromptEntry

__all__ = ["GROUP", "READER", "UserConfigError", "experiment_from_user_config"]

GROUP = "vlmhyperbench.user_config"
READER = "v01"
"""The entry point of ``GROUP`` that reads ``user_config.csv``."""
READER_PACKAGE = "vlmhb-v01"

UserConfigReader = Callable[[Path, Any], tuple[dict[str, Any], dict[str, dict[str, Any]]]]


class UserConfigError(ValueError):
    """Every problem of a user_config (or a missing reader), one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def user_config_reader() -> UserConfigReader:
    """The installed reader, or :class:`UserConfigError` naming the package to install."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == READER]
    if not found:
        raise UserConfigError(
            [
                f"--user-config: reading a v0.1 user_config.csv needs {READER_PACKAGE}, which is "
                f"not installed (no {READER!r} in the entry-point group {GROUP!r}); install it: "
                f"pip install {READER_PACKAGE}"
            ]
        )
    return found[0].load()


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

    Raises ``UserConfigError`` listing every problem of every row, or naming the package to
    install when no reader is.
    """
    resolve = user_config_reader()
    try:
        experiment, prompts = resolve(Path(path), _RegistryView(registry))
    except ValueError as exc:
        problems = getattr(exc, "problems", None)
        if not isinstance(problems, list):
            raise
        raise UserConfigError([str(p) for p in problems]) from exc
    entry = ExperimentEntry.model_validate(experiment)
    return entry, {name: PromptEntry.model_validate(data) for name, data in prompts.items()}
