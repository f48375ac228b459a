"""Validation problems, collected rather than raised, so a user sees every mistake at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one registry file: where, which field, what was expected."""

    file: Path
    line: int | None
    field: str
    message: str

    def render(self, root: Path | None = None) -> str:
        shown = self.file
        if root is not None:
            try:
                shown = self.file.relative_to(root)
            except ValueError:
                pass
        where = f"{shown}:{self.line}" if self.line else str(shown)
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class RegistryError(Exception):
    """Raised when registries are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem], root: Path | None = None) -> None:
        self.problems = sorted(problems, key=lambda p: (str(p.file), p.line or 0, p.field))
        self.root = root
        super().__init__("\n".join(p.render(root) for p in self.problems))


def location(loc: tuple[Any, ...]) -> str:
    """A field path as people write it: ``runs[0].metrics``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text
