"""Infer stages of one model: its server is started once, lazily, and shared by its runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from vlmhb_workdir import ANSWERS_FILE, MANIFEST_FILE, RUN_CONFIG_FILE, SAMPLES_FILE, TELEMETRY_FILE

from ..executors import Executor
from ..workdir import Workdir, read_json, write_json
from .answers import load_samples, read_answers
from .chat_request import InferSettings
from .endpoint import EndpointServer
from .events import EventBus, ResourceSample, StageProgress
from .field_schema import task_schema
from .inference_runner import InferenceRunner, pending_samples
from .lifecycle import IncompleteStage, SkipStage, StageLifecycle, StageResult
from .ratelimit import CostBudget
from .serve import ModelServer, RemoteModelServer
from .stages import InferStage, PlannedRun, ServeStage


def select_samples(run: PlannedRun, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's filters (each independently) and limit, in dataset order."""
    f = run.filters
    if f.doc_class:
        samples = [s for s in samples if s.get("doc_class") in f.doc_class]
    if f.question_type:
        samples = [s for s in samples if s.get("question_type") in f.question_type]
    return samples[: run.limit] if run.limit else samples


def response_format(run: PlannedRun, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if run.prompt.response_format != "json_schema" or schema is None:
        return None
    return {
        "type": "json_schema",
        "json_schema": {"name": run.task.name.replace("-", "_"), "schema": schema},
    }


class ModelInference:
    """Runs the infer stages of one serve stage, starting the server only if one needs it."""

    def __init__(
        self,
        serve: ServeStage,
        lifecycle: StageLifecycle,
        bus: EventBus,
        layout: Workdir,
        executor: Executor,
        sources: list[Any],
        mode: str,
        budget: CostBudget | None = None,
        parallel_models: int = 1,
    ) -> None:
        self.serve = serve
        self.budget = budget
        #: Models of the experiment inferring at the same time as this one (this one
        #: included): recorded with the speed figures, which they share the machine with.
        self.parallel_models = parallel_models
        self.lifecycle = lifecycle
        self.bus = bus
        self.layout = layout
        self.executor = executor
        self.sources = sources
        self.mode = mode
        self.server: Any = None
        #: Why this model's runs stopped early (failures in a row, --max-cost): the model's
        #: later runs send nothing either, and each stays partial for the next run to resume.
        self.halted: str | None = None
        self.serve_result: StageResult | None = None

    def run(self, stages: list[InferStage], ready: dict[str, bool]) -> list[StageResult]:
        results = []
        try:
            for stage in stages:
                if not ready.get(stage.sync.id):
                    results.append(self.lifecycle.fail(stage, f"{stage.sync.name} failed"))
                    continue
                if self.serve_result is not None and not self.serve_result.ok:
                    results.append(self.lifecycle.fail(stage, self.serve_result.error or ""))
                    continue
                results.append(self.lifecycle.run(stage, lambda f, s=stage: self._infer(s, f)))
        finally:
            if self.server is not None:
                self.server.stop()
        return results

    def _ensure_server(self) -> Any:
        if self.server is not None:
            return self.server
        if self.serve_result is not None:  # it failed to start before
            raise RuntimeError(self.serve_result.error)

        def start(_: Path | None) -> dict[str, Any]:
            if self.serve.model.endpoint is not None:
                server: Any = EndpointServer(self.serve, self.layout.root)
            elif self.serve.model.base_url is not None:
                server = RemoteModelServer(self.serve)
            else:
                if self.serve.adapter is None or self.serve.backend is None:
                    raise RuntimeError(
                        f"model {self.serve.model.name!r} has no adapter/backend and no base_url"
                    )
                mounts = [self.layout.stage_root("sync"), self.layout.generated_root]
                mounts += [self.layout.cache_root, self.layout.models_root]
                server = ModelServer(
                    self.serve,
                    self.executor,
                    self.sources,
                    self.layout,
                    self.mode,
                    [m for m in mounts if m.exists()],
                )
            server.start()
            self.server = server
            return {"base_url": server.base_url, "model_id": server.model_id}

        self.serve_result = self.lifecycle.run(self.serve, start)
        if not self.serve_result.ok:
            raise RuntimeError(self.serve_result.error)
        lock = getattr(self.server, "environment_lock", "")
        if lock:
            (self.layout.server_dir(self.serve.model.name) / "environment.lock").write_text(
                lock, encoding="utf-8"
            )
        return self.server

    def _infer(self, stage: InferStage, folder: Path | None) -> dict[str, Any]:
        assert folder is not None
        run = stage.run
        answers_path = folder / ANSWERS_FILE
        if run.only_evaluate:
            if not answers_path.exists():
                raise RuntimeError(
                    f"only_evaluate: no answers to re-score for {run.label()} in {folder}"
                )
            raise SkipStage("only_evaluate: answers are re-scored as they are")
        dataset_dir = self.layout.stage_dir("sync", stage.sync.id)
        samples = select_samples(run, load_samples(dataset_dir / SAMPLES_FILE))
        write_json(folder / RUN_CONFIG_FILE, self._run_config(stage))
        retries = run.model.retries
        todo = pending_samples(samples, read_answers(answers_path), retries.max_attempts)
        records: list[Any]
        if todo and self.halted is None:
            server = self._ensure_server()
            records = self._ask(stage, samples, answers_path, server, folder)
            if getattr(server, "environment_lock", ""):
                (folder / "environment.lock").write_text(server.environment_lock, encoding="utf-8")
        else:
            existing = read_answers(answers_path)
            records = [existing[str(s["id"])] for s in samples if str(s["id"]) in existing]
        failed = [r for r in records if r.parse_status == "failed"]
        retryable = [r for r in failed if r.attempts < retries.max_attempts]
        outputs = {"samples": len(records), "failed": len(failed)}
        first = next((f"{r.id}: {r.error}" for r in failed if r.error), "")
        left = self.halted and pending_samples(
            samples, read_answers(answers_path), retries.max_attempts
        )
        if left and not records:
            raise RuntimeError(
                f"stopped before any sample was answered ({len(left)} left for the next run): "
                f"{self.halted}"
            )
        if left:
            raise IncompleteStage(
                f"stopped early, {len(left)} samples left for the next run: {self.halted}", outputs
            )
        if retryable and len(failed) == len(records):
            raise RuntimeError(
                f"every sample failed; they are retried on the next run (first: {first})"
            )
        if retryable:
            raise IncompleteStage(
                f"{len(retryable)} of {len(records)} samples failed and are retried on the "
                f"next run (first: {first})",
                outputs,
            )
        return outputs

    def _ask(
        self,
        stage: InferStage,
        samples: list[dict[str, Any]],
        answers_path: Path,
        server: Any,
        folder: Path,
    ) -> list[Any]:
        run = stage.run
        model = run.model
        limits = model.rate_limits
        schema = task_schema(run.task, self.layout.stage_dir("sync", stage.sync.id) / SAMPLES_FILE)
        settings = InferSettings(
            model_id=server.model_id,
            system_prompt=run.prompt.system_prompt,
            template=run.prompt.template,
            collection=run.prompt_collection,
            generation=run.generation.model_dump(exclude_none=True),
            response_format=response_format(run, schema),
            json_schema=schema,
            output_kind=run.task.output.kind,
            transforms=run.prompt.transforms,
            concurrency=limits.max_concurrency or model.concurrency,
            per_run=model.retries.per_run,
            max_attempts=model.retries.max_attempts,
            request_timeout_s=model.endpoint.timeout_s if model.endpoint else None,
            max_consecutive_failures=model.retries.max_consecutive_failures,
            rpm=limits.rpm,
            tpm=limits.tpm,
            price=model.price,
            reasoning=model.reasoning,
        )
        base = {"stage_id": stage.id, "stage_kind": "infer", "name": stage.name}

        def progress(done: int, total: int, failed: int) -> None:
            self.bus.publish(StageProgress(**base, done=done, total=total, failed=failed))

        def resource(sample: dict[str, float]) -> None:
            self.bus.publish(ResourceSample(**base, metrics=sample))

        runner = InferenceRunner(
            samples, answers_path, settings, server, progress, resource, budget=self.budget
        )
        records = asyncio.run(runner.run())
        self.halted = self.halted or runner.stopped
        telemetry_path = folder / TELEMETRY_FILE
        previous = read_json(telemetry_path) if telemetry_path.exists() else {}
        measured = {**runner.telemetry, "parallel_models": float(self.parallel_models)}
        peaks = {k: max(v, previous.get(k) or 0.0) for k, v in measured.items()}
        write_json(telemetry_path, {**previous, **peaks})
        return records

    def _run_config(self, stage: InferStage) -> dict[str, Any]:
        run = stage.run
        manifest = self.layout.stage_dir("sync", stage.sync.id) / MANIFEST_FILE
        rendered = read_json(manifest).get("pdf") if manifest.is_file() else None
        return {
            "infer_id": stage.id,
            "run": run.name,
            "model": run.model.model_dump(mode="json", by_alias=True),
            "dataset": run.dataset.model_dump(mode="json"),
            "sync_id": stage.sync.id,
            "task": run.task.model_dump(mode="json"),
            "prompt": run.prompt.model_dump(mode="json"),
            "prompt_collection": run.prompt_collection,
            "generation": run.generation.model_dump(mode="json"),
            "filters": run.filters.model_dump(mode="json"),
            "limit": run.limit,
            "adapter": stage.serve.adapter,
            "backend": stage.serve.backend,
            "pdf": rendered,  # PDF pages rendered at sync: settings and page count
        }
