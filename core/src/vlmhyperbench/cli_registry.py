"""The registries as every ``vlmhb`` command opens them: a problem is printed one line each
and the command exits with status 2 (its own module so that command groups in other modules
use it without importing ``cli``, which imports them)."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from .api import RegistryInvalid, open_registry
from .cli_options import err
from .cli_run import EXIT_BAD_INPUT
from .registry import Registry


def fail(lines: list[str] | str) -> NoReturn:
    """Print ``lines`` on stderr and exit with status 2 (bad input)."""
    for line in [lines] if isinstance(lines, str) else lines:
        err.print(line, markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def load_registry(
    registries: Path,
    mode: str | None,
    overlays: list[Path] | None = None,
    experiment_files: list[Path] | None = None,
) -> Registry:
    """The shipped registries with ``overlays`` and ``experiment_files``, validated; every
    problem printed as ``file:line: field`` and exit 2 when they are not valid."""
    try:
        return open_registry(registries, mode, overlays or [], experiment_files or [])
    except RegistryInvalid as exc:
        fail([*exc.lines, f"{len(exc.problems)} problem(s) found"])
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
