"""Writing imported entries: one overwrite rule and one default place for every importer.

Imports go to an overlay folder, never into the shipped registries: by default the user
overlay (``$VLMHB_USER_OVERLAY``, else ``~/.config/vlmhb/registries``), which every command
reads after the shipped registries. An existing entry is kept unless ``overwrite`` says
otherwise, and each file is written under a temporary name and renamed (nothing half-written).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


def user_overlay_dir() -> Path:
    """Where imports go by default: a per-user folder every command reads after the shipped
    registries, so an import never edits the checkout."""
    configured = os.environ.get("VLMHB_USER_OVERLAY")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "vlmhb" / "registries"


@dataclass
class ImportResult:
    """What an import wrote and what it kept, so the CLI can say both."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    def merge(self, other: ImportResult) -> None:
        self.written += other.written
        self.skipped += other.skipped


@dataclass
class PlannedEntry:
    """A registry entry as plain data (``<kind>/<name>.yaml`` holding ``data``): the core
    validates it when it loads the overlay, so this package needs no registry models."""

    kind: str
    name: str
    data: dict[str, Any]


def write_entries(
    entries: list[PlannedEntry], overlay: Path | None = None, overwrite: bool = False
) -> ImportResult:
    """Write ``<overlay>/<kind>/<name>.yaml`` for each entry, keeping existing ones unless
    ``overwrite``; the same for every importer."""
    root = overlay if overlay is not None else user_overlay_dir()
    result = ImportResult()
    for entry in entries:
        target = root / entry.kind / f"{entry.name}.yaml"
        if target.exists() and not overwrite:
            result.skipped.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".yaml.tmp")
        text = yaml.safe_dump(entry.data, allow_unicode=True, sort_keys=False)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        result.written.append(target)
    return result
