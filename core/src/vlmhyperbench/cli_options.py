"""Command-line options and consoles shared by every ``vlmhb`` command (said once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:  # logs and CI: wide enough for a leaderboard, never squeezed to 80
    out = Console(highlight=False, soft_wrap=True, width=220)
err = Console(stderr=True, highlight=False, soft_wrap=True)

RegistriesOption = Annotated[
    Path,
    typer.Option(
        "--registries",
        "-r",
        help="Registries folder (default: $VLMHB_REGISTRIES or ./registries).",
        envvar="VLMHB_REGISTRIES",
    ),
]

ModeOption = Annotated[
    str | None,
    typer.Option(
        "--mode", help="dev (local editable packages) or prod; default $RUN_MODE or prod."
    ),
]

OverlayOption = Annotated[
    list[Path] | None,
    typer.Option("--overlay", help="Extra overlay folder (repeatable), merged last."),
]

WorkdirOption = Annotated[
    Path,
    typer.Option(
        "--workdir",
        "-w",
        help="Where stage outputs, the tracker and reports go.",
        envvar="VLMHB_WORKDIR",
    ),
]

LimitOption = Annotated[
    int | None,
    typer.Option("--limit", min=1, help="At most N samples per run, for a quick look."),
]
