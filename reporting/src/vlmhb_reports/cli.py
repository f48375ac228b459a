"""``vlmhb compare`` and ``vlmhb backend-parity``: commands the core's CLI finds through the entry-point group
``vlmhyperbench.commands`` (extra ``cli``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .backend_parity import (
    BackendParity,
    BackendParityError,
    load_tokenizer,
    read_answers,
    run_answers,
    run_setup,
    token_parity,
)
from .compare import CompareError
from .compare import compare as run_compare
from .records import RunNotFound, run_label, runs_index, select_runs

EXIT_BAD_INPUT = 2
EXIT_BELOW_THRESHOLD = 1
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
                f"{r['metric']}[{r['field']}]" if r.get("field") else str(r["metric"]),
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


WorkdirOption = Annotated[
    Path,
    typer.Option(
        "--workdir", "-w", help="Work dir the runs were written to.", envvar="VLMHB_WORKDIR"
    ),
]


def _side(ref: str, workdir: Path) -> tuple[str, dict[str, str | None], str | None]:
    """(label, answers, checkpoint folder or None) of an answers file or a run of the work dir."""
    path = Path(ref)
    if path.is_file():
        return str(path), read_answers(path), None
    if ref.count("/") != 2:
        raise BackendParityError(
            f"{ref}: neither an answers file nor a run (expected model/dataset/prompt)"
        )
    try:
        runs = select_runs(runs_index(workdir), ref)
    except RunNotFound as exc:
        raise BackendParityError(str(exc)) from None
    if len(runs) != 1:
        names = ", ".join(run_label(r) for r in runs)
        raise BackendParityError(f"{ref}: names {len(runs)} runs ({names}); name one")
    backend, checkpoint = run_setup(workdir, runs[0])
    return f"{run_label(runs[0])} ({backend})", run_answers(workdir, runs[0]), checkpoint


def backend_parity_command(
    a: Annotated[str, typer.Argument(help="answers.jsonl, or a run (model/dataset/prompt).")],
    b: Annotated[str, typer.Argument(help="answers.jsonl, or a run (model/dataset/prompt).")],
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            "--tokenizer",
            "-t",
            help="Checkpoint folder (its tokenizer; default: the runs' checkpoint).",
        ),
    ] = None,
    min_agreement: Annotated[
        float,
        typer.Option(
            "--min-agreement",
            min=0.0,
            max=1.0,
            help="Exit 1 when fewer answers than this share are identical (1.0: all).",
        ),
    ] = 1.0,
    workdir: WorkdirOption = Path(".work"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    show: Annotated[int, typer.Option(help="Divergences printed (all with --json).")] = 10,
) -> None:
    """Same checkpoint, two backends: per-sample answer agreement and, for each answer that
    differs, the first differing token (position and ids, the checkpoint's tokenizer)."""
    try:
        label_a, answers_a, checkpoint_a = _side(a, workdir)
        label_b, answers_b, checkpoint_b = _side(b, workdir)
        folder = tokenizer or checkpoint_a or checkpoint_b
        if folder is None:
            raise BackendParityError(
                "--tokenizer: give the checkpoint folder whose tokenizer tokenises the answers"
            )
        parity = token_parity(answers_a, answers_b, load_tokenizer(Path(folder)), label_a, label_b)
    except BackendParityError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json:
        print(json.dumps(parity.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_parity(parity, show)
    if parity.agreement < min_agreement:
        err.print(
            f"backend parity below --min-agreement {min_agreement:.1%}: "
            f"{parity.agreement:.1%} of answers identical",
            markup=False,
        )
        raise typer.Exit(EXIT_BELOW_THRESHOLD)


def _print_parity(parity: BackendParity, show: int) -> None:
    out.print(parity.summary(), markup=False)
    for divergence in parity.divergences[:show]:
        out.print("  " + divergence.describe(), markup=False)
    if len(parity.divergences) > show:
        out.print(f"  ... and {len(parity.divergences) - show} more (--show, --json)", markup=False)
