"""What the sync, eval and upload stages do (their bodies; the lifecycle is ``lifecycle``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmhb_stages import EvalConfig, GeneratorSpec, MetricSpec, SyncConfig, UploadConfig
from vlmhb_workdir import ANSWERS_FILE, MANIFEST_FILE, METRICS_FILE, SAMPLES_FILE

from ..workdir import Workdir, read_json
from .events import EventBus, LogLine
from .field_schema import task_schema
from .identity import content_hash
from .lifecycle import SkipStage
from .scripts import ScriptRunner
from .stages import EvalStage, SyncStage, UploadStage


class DataChangedError(RuntimeError):
    """The prepared dataset is not the one the entry pins with ``checksum``."""


def sync_body(
    stage: SyncStage,
    folder: Path,
    scripts: ScriptRunner,
    layout: Workdir,
    repo_root: Path,
    accept_data_change: bool = False,
    max_images: int | None = None,
) -> dict[str, Any]:
    dataset = stage.dataset
    config = SyncConfig(
        out_dir=str(folder),
        iterator=dataset.iterator,
        path_in_source=dataset.path_in_source,
        options=dataset.options,
        split=dataset.split,
        max_images=max_images,
        pdf=dataset.pdf.model_dump(),
        limit=stage.limit,
    )
    mounts: list[Path] = []
    writable: list[Path] = []
    if dataset.generator is not None:
        assert stage.generator_id is not None
        config.generator = GeneratorSpec(
            callable=dataset.generator.callable, params=dataset.generator.params
        )
        config.generated_dir = str(layout.generated_dir(stage.generator_id))
        # only its own folder: a Ray node without a shared filesystem fetches just that
        writable.append(layout.generated_dir(stage.generator_id))
    elif (dataset.source or "").startswith("s3://"):
        config.source = dataset.source
        config.cache_dir = str(layout.cache_dir(content_hash(dataset.source)))
        config.endpoint_url = dataset.endpoint_url
        writable.append(Path(config.cache_dir))
    elif (dataset.source or "").startswith("hf://"):
        # Read by the `hf` iterator through `datasets` (HF_HOME's cache, HF_HUB_OFFLINE
        # honoured); its images go to one content-addressed folder shared by all datasets.
        config.source = dataset.source
        config.cache_dir = str(layout.cache_root / "hf-images")
        writable.append(Path(config.cache_dir))
    else:
        path = Path((dataset.source or "").removeprefix("file://"))
        path = path if path.is_absolute() else repo_root / path
        config.source = str(path)
        mounts.append(path)
    if dataset.iterator == "hf" and config.cache_dir is None:  # local parquet/save_to_disk
        config.cache_dir = str(layout.cache_root / "hf-images")
        writable.append(Path(config.cache_dir))
    scripts.run(stage, "prepare_dataset", config, stage.packages, folder, mounts, writable)
    manifest = read_json(folder / MANIFEST_FILE)
    fingerprint = manifest["fingerprint"]
    verify_pinned(stage, fingerprint, scripts.bus, accept_data_change)
    return {
        "fingerprint": fingerprint,
        "samples": manifest["samples"],
        "images": manifest["images"],
        "checksum_pinned": bool(dataset.checksum),
    }


def verify_pinned(
    stage: SyncStage, fingerprint: str, bus: EventBus, accept_data_change: bool
) -> None:
    """Refuse prepared data whose fingerprint is not the one the entry pins with ``checksum``.

    Also run for a sync skipped as done: the pin is no part of the sync's id (adding one must
    not re-run anything), so data prepared before the pin existed is checked here."""
    dataset = stage.dataset
    if not dataset.checksum or fingerprint == dataset.checksum:
        return
    message = (
        f"dataset {dataset.name!r}: the prepared data has fingerprint {fingerprint}, but the "
        f"entry pins checksum {dataset.checksum}; the data changed under the same entry. "
        f"If the change is expected, set `checksum: {fingerprint}` in its registry file "
        "(or run with --accept-data-change)"
    )
    if not accept_data_change:
        raise DataChangedError(message)
    bus.publish(LogLine(stage_id=stage.id, stage_kind="sync", name=stage.name, line=message))


def eval_body(stage: EvalStage, folder: Path, scripts: ScriptRunner, layout: Workdir) -> dict:
    run = stage.run
    infer_dir = layout.stage_dir("infer", stage.infer.id)
    if not (infer_dir / ANSWERS_FILE).exists():
        raise SkipStage(f"no answers to score in {infer_dir}")
    if not run.metrics:
        raise RuntimeError(f"{run.label()}: no metrics to compute (task has no default_metrics)")
    dataset_dir = layout.stage_dir("sync", stage.infer.sync.id)
    schema = task_schema(run.task, dataset_dir / SAMPLES_FILE)
    config = EvalConfig(
        out_dir=str(folder),
        samples=str(dataset_dir / SAMPLES_FILE),
        answers=str(infer_dir / ANSWERS_FILE),
        output_kind=run.task.output.kind,
        aggregators=run.aggregators,
        label=run.label(),
        metrics=[
            MetricSpec(
                name=m.name,
                column=m.column,
                version=m.version,
                entry_point=m.entry_point,
                callable=m.callable,
                params=m.params,
                schema_param=m.schema_param,
                json_schema=schema,
                inputs=m.inputs,
                higher_is_better=m.higher_is_better,
            )
            for m in run.metrics
        ],
    )
    packages = list(stage.packages)
    if scripts.resolver.knows("vlmhb-statistics"):
        packages.append("vlmhb-statistics")  # confidence intervals
    scripts.run(stage, "evaluate", config, packages, folder, [dataset_dir, infer_dir])
    return read_json(folder / METRICS_FILE).get("metrics", {})


def upload_body(
    stage: UploadStage, folder: Path, scripts: ScriptRunner, layout: Workdir, results: list
) -> dict[str, Any]:
    folders = [("report", str(layout.report_dir(stage.report.experiment.name)))]
    for result in results:  # answers even of a partial run; scores only when complete
        runs_dir = layout.stage_dir("infer", str(result.infer_id))
        evals_dir = layout.stage_dir("eval", str(result.eval_id))
        if result.infer_id and runs_dir.is_dir():
            folders.append((f"runs/{result.infer_id}", str(runs_dir)))
        if result.eval_id and Workdir.is_done(evals_dir):
            folders.append((f"evals/{result.eval_id}", str(evals_dir)))
    config = UploadConfig(
        uri=stage.storage.uri,
        endpoint_url=stage.storage.endpoint_url,
        experiment=stage.report.experiment.name,
        folders=folders,
    )
    env = {"AWS_DEFAULT_REGION": stage.storage.region} if stage.storage.region else {}
    scripts.run(
        stage,
        "upload_bundle",
        config,
        ["vlmhb-data-layer"],
        folder,
        [Path(f) for _, f in folders],
        env=env,
    )
    return {"folders": len(folders)}
