"""ExperimentRunner: walks a plan's graph; every stage goes through the one lifecycle.

Order: every stage is announced (planned), servers left by a dead run of this work dir are
stopped, then sync -> infer (per model, each model's server shared by its runs; models in
parallel up to ``experiment.parallelism``) -> eval -> report -> upload. A stage whose inputs
failed is recorded as failed with the reason; the others go on, so one broken run costs only
itself.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vlmhb_workdir import MANIFEST_FILE, METRICS_FILE

from ..executors import Executor
from ..workdir import Workdir, read_json
from .events import EventBus, LogLine
from .identity import PackageResolver
from .inference import ModelInference
from .lifecycle import StageLifecycle, StageResult
from .ratelimit import CostBudget
from .report import write_reports
from .scripts import ScriptRunner
from .serve import stop_orphans
from .stages import EvalStage, InferStage, Plan, RunResult, SyncStage
from .steps import DataChangedError, eval_body, sync_body, upload_body, verify_pinned


@dataclass
class RunOutcome:
    """What a finished experiment left: its status, report folder and leaderboard rows."""

    status: Literal["done", "failed"]
    report_dir: Path
    columns: list[str]
    rows: list[dict[str, Any]]
    results: list[RunResult]
    stages: dict[str, StageResult] = field(default_factory=dict)
    #: Why ``--max-cost`` stopped inference (None: it did not), and what was spent.
    budget_exhausted: str | None = None
    spent_usd: float | None = None

    @property
    def errors(self) -> list[str]:
        return [f"{r.run.name}: {r.error}" for r in self.results if r.error]


class ExperimentRunner:
    def __init__(
        self,
        layout: Workdir,
        bus: EventBus,
        executor: Executor,
        resolver: PackageResolver,
        mode: str,
        *,
        accept_data_change: bool = False,
        max_cost_usd: float | None = None,
    ) -> None:
        self.layout = layout
        #: One budget for every model of the run (they run in threads): --max-cost.
        self.budget = CostBudget(max_cost_usd) if max_cost_usd is not None else None
        self.bus = bus
        self.executor = executor
        self.resolver = resolver
        self.mode = mode
        self.accept_data_change = accept_data_change
        self.lifecycle = StageLifecycle(bus, layout)
        self.scripts = ScriptRunner(executor, resolver, bus, mode)

    def _log(self, line: str) -> None:
        self.bus.publish(LogLine(stage_id="-", stage_kind="report", name="run", line=line))

    def _verify_prepared(self, stage: SyncStage, result: StageResult) -> StageResult:
        """A done sync against its entry's pin (see ``verify_pinned``)."""
        assert result.folder is not None
        fingerprint = read_json(result.folder / MANIFEST_FILE)["fingerprint"]
        try:
            verify_pinned(stage, fingerprint, self.bus, self.accept_data_change)
        except DataChangedError as exc:
            return self.lifecycle.fail(stage, str(exc))
        return result

    def run(self, plan: Plan) -> RunOutcome:
        for stage in plan.stages:
            self.lifecycle.planned(stage)
        stop_orphans(self.layout, self.executor, say=self._log)
        repo_root = self.resolver.registry.repo_root
        synced: dict[str, bool] = {}
        results: dict[str, StageResult] = {}
        for stage in plan.syncs:
            result = self.lifecycle.run(
                stage,
                lambda f, s=stage: sync_body(
                    s,
                    f,
                    self.scripts,
                    self.layout,
                    repo_root,
                    self.accept_data_change,
                    s.max_images,
                ),
                skip_reason="dataset already prepared",
            )
            if result.status == "skipped" and stage.dataset.checksum:
                result = self._verify_prepared(stage, result)
            results[stage.id] = result
            synced[stage.id] = result.ok
        for result in self._infer(plan, synced):
            results[result.stage.id] = result
        for stage in plan.evals:
            results[stage.id] = self._evaluate(stage, results[stage.infer.id])
        run_results = [self._run_result(plan, infer, results) for infer in plan.infers]
        report = plan.report
        outputs: dict[str, Any] = {}

        def write(folder: Path | None) -> dict[str, Any]:
            assert folder is not None
            columns, rows = write_reports(report, run_results, self.layout)
            outputs.update(columns=columns, rows=rows)
            return {"rows": len(rows)}

        results[report.id] = self.lifecycle.run(report, write)
        upload = plan.upload
        if upload is not None:
            results[upload.id] = self.lifecycle.run(
                upload,
                lambda f: upload_body(upload, f, self.scripts, self.layout, run_results),  # type: ignore[arg-type]
            )
        failed = any(r.error for r in run_results) or any(not r.ok for r in results.values())
        return RunOutcome(
            status="failed" if failed else "done",
            report_dir=self.layout.report_dir(plan.experiment.name),
            columns=outputs.get("columns", []),
            rows=outputs.get("rows", []),
            results=run_results,
            stages=results,
            budget_exhausted=self.budget.exhausted if self.budget else None,
            spent_usd=self.budget.spent_usd if self.budget else None,
        )

    def _infer(self, plan: Plan, synced: dict[str, bool]) -> list[StageResult]:
        groups: dict[str, list[InferStage]] = {}
        for stage in plan.infers:
            groups.setdefault(stage.serve.id, []).append(stage)
        serves = {s.id: s for s in plan.serves}

        workers = max(1, min(plan.experiment.parallelism, len(groups)))

        def one(serve_id: str) -> list[StageResult]:
            serve = serves[serve_id]
            sources = self.resolver.sources(serve.packages) if serve.packages else []
            group = ModelInference(
                serve,
                self.lifecycle,
                self.bus,
                self.layout,
                self.executor,
                sources,
                self.mode,
                self.budget,
                parallel_models=workers,
            )
            return group.run(groups[serve_id], synced)

        if workers == 1:
            return [r for serve_id in groups for r in one(serve_id)]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vlmhb-model") as pool:
            return [r for rs in pool.map(one, list(groups)) for r in rs]

    def _evaluate(self, stage: EvalStage, infer: StageResult) -> StageResult:
        if not infer.ok and not (stage.run.only_evaluate and infer.status == "skipped"):
            return self.lifecycle.fail(stage, f"{stage.infer.name} failed")
        return self.lifecycle.run(
            stage,
            lambda f: eval_body(stage, f, self.scripts, self.layout),  # type: ignore[arg-type]
            skip_reason="scores exist",
            complete=infer.status != "partial",
        )

    def _run_result(
        self, plan: Plan, infer: InferStage, results: dict[str, StageResult]
    ) -> RunResult:
        evaluation = next(e for e in plan.evals if e.infer is infer)
        infer_result, eval_result = results[infer.id], results[evaluation.id]
        result = RunResult(run=infer.run, infer_id=infer.id, eval_id=evaluation.id)
        result.complete = infer_result.status != "partial"
        result.error = infer_result.error or eval_result.error
        metrics_path = self.layout.stage_dir("eval", evaluation.id) / METRICS_FILE
        if eval_result.ok and metrics_path.exists():
            result.metrics = read_json(metrics_path)
        return result
