"""``vlmhb plan`` and ``vlmhb parity``: look before running, and check our metrics against
other tools' definitions after (``vlmhb compare`` comes with vlmhb-reports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .cli_options import (
    LimitOption,
    ModeOption,
    OverlayOption,
    RegistriesOption,
    WorkdirOption,
    err,
    out,
)


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
        from .cli_registry import load_registry
        from .cli_run import plan_for, print_plan

        files = [Path(experiment)] if experiment.endswith((".yaml", ".yml")) else []
        registry = load_registry(registries, mode, overlay, files)
        print_plan(out, plan_for(registry, experiment, None, limit), workdir)

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
        from .cli_registry import load_registry
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
