"""``vlmhb compare``: a command the core's CLI finds through the entry-point group
``vlmhyperbench.commands`` (extra ``cli``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .compare import CompareError
from .compare import compare as run_compare

EXIT_BAD_INPUT = 2
out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:  # logs and CI: wide enough for a table, never squeezed to 80
    out = Console(highlight=False, soft_wrap=True, width=220)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _number(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "-"


def compare_command(
    a: Annotated[str, typer.Argument(help="Run (model/dataset/prompt) or experiment.")],
    b: Annotated[str, typer.Argument(help="Run, glob of runs, or experiment.")],
    workdir: Annotated[
        Path,
        typer.Option(
            "--workdir", "-w", help="Work dir the runs were written to.", envvar="VLMHB_WORKDIR"
        ),
    ] = Path(".work"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
    fail_on_regression: Annotated[
        bool,
        typer.Option("--fail-on-regression", help="Exit 1 when any verdict is 'worse'."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Bootstrap and permutation seed.")] = 0,
) -> None:
    """Paired comparison on shared samples: delta, 95% CI, p-value and a verdict per metric."""
    try:
        rows = run_compare(workdir, a, b, seed=seed)
    except CompareError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        table = Table("A", "B", "metric", "A", "B", "delta", "95% CI", "p", "verdict")
        for r in rows:
            tested = r["p_value"] is not None
            table.add_row(
                r["run_a"],
                r["run_b"],
                str(r["metric"]),
                _number(r["a"], ".4g"),
                _number(r["b"], ".4g"),
                _number(r["delta"], "+.4g"),
                f"[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]" if tested else "-",
                f"{r['p_value']:.3g}" if tested else "-",
                r["verdict"],
            )
        out.print(table)
        agreements = {(r["run_a"], r["run_b"]): r for r in rows}
        for (ra, rb), r in agreements.items():
            out.print(
                f"answers of {ra} and {rb}: {r['agreement_exact']:.1%} identical, "
                f"{r['agreement_normalized']:.1%} after normalisation"
            )
    if fail_on_regression and any(r["verdict"] == "worse" for r in rows):
        raise typer.Exit(1)
