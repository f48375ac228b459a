"""``vlmhb parity``: our numbers next to the definitions other tools print, on the same answers.

No inference: the answers of finished runs are re-scored under every variant of each metric
they use (``anls`` as lmms-eval and VLMEvalKit compute it, ``cer`` with jiwer's transforms...),
in the metric packages' own environment, one process per set of packages.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vlmhb_reports import runs_index, select_runs
from vlmhb_stages import EvalConfig, ParityConfig, ParityRun

from ..execution.events import EventBus
from ..execution.identity import PackageResolver
from ..execution.scripts import ScriptRunner
from ..execution.stages import Stage
from ..registry import Registry
from ..workdir import Workdir


class _ParityStage(Stage):
    kind = "eval"


def parity(registry: Registry, workdir: Path, ref: str) -> list[dict[str, Any]]:
    from vlmhb_dependency_injector import EnvironmentManager

    from ..executors import LocalExecutor

    layout = Workdir(workdir)
    runs = select_runs(runs_index(workdir), ref)
    manager = EnvironmentManager(os.environ.get("VLMHB_ENV_CACHE"), base_dir=registry.repo_root)
    resolver = PackageResolver(registry, manager, registry.mode)
    scripts = ScriptRunner(LocalExecutor(manager), resolver, EventBus(), registry.mode)
    groups: dict[tuple[str, ...], list[ParityRun]] = {}
    for run in runs:
        eval_dir = layout.stage_dir("eval", run["eval_id"])
        config = EvalConfig.model_validate_json(
            (eval_dir / "evaluate.config.json").read_text(encoding="utf-8")
        )
        packages = tuple(sorted({registry.get("metrics", m.name).package for m in config.metrics}))
        groups.setdefault(packages, []).append(
            ParityRun(
                label=f"{run['model']}/{run['dataset']}/{run['prompt']}",
                samples=config.samples,
                answers=config.answers,
                output_kind=config.output_kind,
                metrics=config.metrics,
            )
        )
    rows: list[dict[str, Any]] = []
    for i, (packages, items) in enumerate(groups.items()):
        folder = layout.root / "parity" / f"{i}"
        out = folder / "parity.json"
        stage = _ParityStage(id=f"parity{i}", name=f"parity {ref}", deps=[])
        mounts = [Path(item.samples).parent for item in items]
        mounts += [Path(item.answers).parent for item in items]
        scripts.run(
            stage,
            "parity",
            ParityConfig(out=str(out), runs=items),
            list(packages),
            folder,
            mounts,
        )
        rows += json.loads(out.read_text(encoding="utf-8"))
    return rows
