"""``vlmhb plan`` and ``vlmhb compare``: look before running, and judge differences after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .cli_options import LimitOption, ModeOption, OverlayOption, RegistriesOption, WorkdirOption

out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:  # logs and CI: wide enough for a table, never squeezed to 80
    out = Console(highlight=False, soft_wrap=True, width=220)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def plan(
        experiment: Annotated[str, typer.Argument(help="Experiment name or YAML path.")],
        workdir: WorkdirOption = Path(".work"),
        limit: LimitOption = None,
        registries: RegistriesOption = Path("registries"),
        mode: ModeOption = None,
        overlay: OverlayOption = None,
    ) -> None:
        """The stages that would run, the cached ones, and an estimated time for each."""
        from .analysis import estimate
        from .cli import load_registry
        from .cli_run import plan_for

        files = [Path(experiment)] if experiment.endswith((".yaml", ".yml")) else []
        registry = load_registry(registries, mode, overlay, files)
        planned = plan_for(registry, experiment, None, limit)
        table = Table("stage", "state", "estimate", "basis", title=f"plan — {experiment}")
        total = 0.0
        for item in estimate(planned, workdir):
            state = "cached" if item.cached else "to run"
            shown = "" if item.seconds is None else f"{item.seconds:.1f} s"
            total += item.seconds or 0.0
            table.add_row(item.name, state, shown, item.basis)
        out.print(table)
        out.print(f"estimated total: {total:.1f} s (stages without an estimate not counted)")

    @app.command()
    def parity(
        ref: Annotated[
            str, typer.Argument(help="Run (model/dataset/prompt, globs ok) or experiment.")
        ],
        workdir: WorkdirOption = Path(".work"),
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
        registries: RegistriesOption = Path("registries"),
        mode: ModeOption = None,
        overlay: OverlayOption = None,
    ) -> None:
        """Re-score existing answers under every variant of their metrics (lmms-eval, VLMEvalKit,
        jiwer definitions) and show how far each is from ours. No inference."""
        from vlmhb_reports import RunNotFound

        from .analysis.parity import parity as run_parity
        from .cli import load_registry
        from .cli_run import EXIT_BAD_INPUT

        registry = load_registry(registries, mode, overlay)
        try:
            rows = run_parity(registry, workdir, ref)
        except RunNotFound as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if as_json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        table = Table("run", "metric", "variant", "value", "delta from ours", "samples that differ")
        for r in rows:
            table.add_row(
                r["run"],
                r["metric"],
                r["variant"],
                f"{r['value']:.4f}",
                "" if r["variant"] == "ours" else f"{r['delta']:+.4f}",
                "" if r["variant"] == "ours" else f"{r['differ']:.1%}",
            )
        out.print(table)

    @app.command()
    def compare(
        a: Annotated[str, typer.Argument(help="Run (model/dataset/prompt) or experiment.")],
        b: Annotated[str, typer.Argument(help="Run, glob of runs, or experiment.")],
        workdir: WorkdirOption = Path(".work"),
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
        fail_on_regression: Annotated[
            bool,
            typer.Option("--fail-on-regression", help="Exit 1 when any verdict is 'worse'."),
        ] = False,
        seed: Annotated[int, typer.Option(help="Bootstrap and permutation seed.")] = 0,
    ) -> None:
        """Paired comparison on shared samples: delta, 95% CI, p-value and a verdict per metric."""
        from vlmhb_reports import CompareError
        from vlmhb_reports import compare as run_compare

        from .cli_run import EXIT_BAD_INPUT

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
                table.add_row(
                    r["run_a"],
                    r["run_b"],
                    str(r["metric"]),
                    f"{r['a']:.4g}",
                    f"{r['b']:.4g}",
                    f"{r['delta']:+.4g}",
                    f"[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]",
                    f"{r['p_value']:.3g}",
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
