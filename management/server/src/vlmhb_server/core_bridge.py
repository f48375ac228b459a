"""Every call the server makes into the core (``vlmhyperbench``), in one module.

The core's public API is ``open_registry`` / ``plan_experiment`` / ``run_plan`` plus its event
models. A finished experiment's results (``reports/<experiment>/runs.json`` and each run's
files) are located and read by vlmhb-workdir, which owns the work dir's layout; this module only
turns them into the server's rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from vlmhb_workdir import RUNS_INDEX_FILE, RunResult, Workdir, load_experiment, number

if TYPE_CHECKING:
    from .limits import Policy

# --- input: what the API accepts, turned into a plan -----------------------------------------


class InputError(ValueError):
    """An experiment that cannot be run; ``problems`` are ``vlmhb validate``-style lines."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


@dataclass
class Prepared:
    """A validated experiment: its name and the plan to run."""

    name: str
    plan: Any
    registry: Any
    stages: list[dict[str, Any]]


def _problems(exc: BaseException) -> list[str]:
    lines = getattr(exc, "lines", None)
    if lines:
        return list(lines)
    problems = getattr(exc, "problems", None)
    if problems and all(isinstance(p, str) for p in problems):
        return list(problems)
    return [line for line in str(exc).strip().strip('"').splitlines() if line.strip()]


def open_registry(registries: Path, mode: str | None, experiment_files: Sequence[Path] = ()) -> Any:
    from vlmhyperbench import open_registry as core_open

    try:
        return core_open(registries, mode=mode, experiment_files=list(experiment_files))
    except FileNotFoundError as exc:
        raise InputError([str(exc)]) from exc
    except Exception as exc:
        if hasattr(exc, "problems"):
            raise InputError(_problems(exc)) from exc
        raise


def registry_entries(registries: Path, mode: str | None, kind: str) -> list[dict[str, Any]]:
    """Every entry of ``kind`` as JSON, for the dashboard's "new experiment" form."""
    registry = open_registry(registries, mode)
    kinds = list(registry.summary())
    if kind not in kinds:
        raise KeyError(f"no registry kind {kind!r}; expected one of {', '.join(kinds)}")
    return [
        registry.get(kind, name).model_dump(mode="json", exclude_none=True)
        for name in registry.names(kind)
    ]


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return over


def _spec_dir(scratch: Path, text: str) -> Path:
    folder = scratch / hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_once(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: to a temporary file beside it, then an
    atomic rename. Identical submissions share the path (it is named by content), so a reader
    never sees a half-written file while another submission writes the same text."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def prepare(
    spec: dict[str, Any],
    registries: Path,
    mode: str | None,
    scratch: Path,
    policy: Policy | None = None,
) -> Prepared:
    """Validate and plan ``spec`` (``{"experiment", "limit", "overrides"}``, ``{"yaml"}`` or
    ``{"user_config"}``); files it needs are written under ``scratch``. With a ``policy``
    (the server's, at submission) client-named files, storage and parallelism are checked
    against it. Raises ``InputError``."""
    from vlmhyperbench import PlanError, plan_experiment

    limit = spec.get("limit")
    configured_storage = None
    try:
        if "yaml" in spec:
            registry, target = _from_yaml(spec["yaml"], registries, mode, scratch)
        elif "user_config" in spec:
            registry, target = _from_user_config(
                spec["user_config"], registries, mode, scratch, policy
            )
        else:
            registry = open_registry(registries, mode)
            target = _named(registry, str(spec["experiment"]), spec.get("overrides") or {})
            configured_storage = registry.get("experiments", str(spec["experiment"])).storage
        plan = plan_experiment(registry, target, limit=limit)
    except InputError:
        raise
    except (PlanError, KeyError, ValueError) as exc:
        raise InputError(_problems(exc)) from exc
    if policy is not None:
        problems = [
            policy.storage_problem(plan.experiment.storage, configured_storage),
            policy.parallelism_problem(plan.experiment.parallelism),
        ]
        if any(problems):
            raise InputError([p for p in problems if p])
    stages = [
        {"id": s.id, "name": s.name, "kind": s.kind, "deps": list(s.deps)} for s in plan.stages
    ]
    return Prepared(plan.experiment.name, plan, registry, stages)


def _named(registry: Any, name: str, overrides: dict[str, Any]) -> Any:
    if name not in registry.names("experiments"):
        raise InputError(
            [
                f"experiment: no experiments entry named {name!r}; expected one of "
                f"{', '.join(registry.names('experiments')) or '(none)'}"
            ]
        )
    if not overrides:
        return name
    from pydantic import ValidationError
    from vlmhyperbench.registry import ExperimentEntry

    base = registry.get("experiments", name).model_dump(mode="json", exclude_unset=True)
    try:
        return ExperimentEntry.model_validate(_merge(base, overrides))
    except ValidationError as exc:
        raise InputError(
            [
                f"overrides: {'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                for err in exc.errors()
            ]
        ) from exc


def _from_yaml(text: str, registries: Path, mode: str | None, scratch: Path) -> tuple[Any, Path]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"yaml:{mark.line + 1}" if mark is not None else "yaml"
        raise InputError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise InputError(["yaml: expected a mapping (an experiment entry)"])
    name = str(
        data.pop("name", "") or "experiment-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    )
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InputError([f"yaml: name: {name!r} is not a valid entry name"])
    path = _spec_dir(scratch, text) / f"{name}.yaml"
    _write_once(path, yaml.safe_dump(data, sort_keys=False))
    return open_registry(registries, mode, [path]), path


def _prompt_paths_problems(path: Path, registry: Any, roots: Sequence[Path]) -> list[str]:
    """A user_config row's ``prompt_collection`` may name a prompt entry or a CSV; a CSV is
    read only when the file the core would pick lies inside ``roots`` (the server's prompt
    collections folder and registries), so no request makes the server open any other file.
    The refusal is the same whether or not a file exists elsewhere."""
    from vlmhb_v01 import (
        UserConfigError,
        prompt_collection_files,
        prompt_entry_name,
        read_user_config,
    )

    from .limits import inside

    try:
        rows = read_user_config(path)
    except UserConfigError:
        return []  # the core reports it, with its own line numbers
    prompts = set(registry.names("prompts"))
    problems = []
    for row in rows:
        cell = row.prompt_collection
        if not cell or cell in prompts or prompt_entry_name(row.prompt_task, cell) in prompts:
            continue
        tried = prompt_collection_files(path, row.prompt_task, cell)
        found = next((p for p in tried if p.is_file()), None)
        if found is None or not inside(found, roots):
            problems.append(
                f"{path.name}:{row.line}: prompt_collection: {cell!r} is neither a prompt "
                f"entry nor a CSV in {roots[0]}/<task>/ (where this server reads prompt "
                "collections from)"
            )
    return problems


def _from_user_config(
    text: str, registries: Path, mode: str | None, scratch: Path, policy: Policy | None = None
) -> tuple[Any, Any]:
    from vlmhyperbench import UserConfigError, experiment_from_user_config

    path = _spec_dir(scratch, text) / "user_config.csv"
    _write_once(path, text)
    registry = open_registry(registries, mode)
    if policy is not None:
        problems = _prompt_paths_problems(path, registry, policy.prompt_roots)
        if problems:
            raise InputError(problems)
    try:
        made = experiment_from_user_config(path, registry)
    except UserConfigError as exc:
        raise InputError(_problems(exc)) from exc
    entry, prompts = made if isinstance(made, tuple) else (made, {})
    for prompt in prompts.values():
        registry.add("prompts", prompt, path)
    return registry, entry


# --- running -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # done | failed
    report_dir: Path
    errors: list[str]


def execute(
    prepared: Prepared,
    workdir: Path,
    subscriber: Callable[[dict[str, Any]], None],
    executor: str | None = None,
) -> Outcome:
    """Run the plan; every core event reaches ``subscriber`` as its JSON dict."""
    from vlmhyperbench import run_plan

    def forward(event: Any) -> None:
        subscriber(event.model_dump(mode="json"))

    outcome = run_plan(
        prepared.plan,
        prepared.registry,
        workdir=workdir,
        executor=executor,
        subscribers=[forward],
    )
    return Outcome(outcome.status, Path(outcome.report_dir), list(outcome.errors))


def parse_event(data: dict[str, Any]) -> dict[str, Any]:
    """Validate an event dict with the core's models (unknown types raise ``ValueError``)."""
    from vlmhyperbench import parse_event as core_parse

    return core_parse(data).model_dump(mode="json")


# --- results: the work dir's files, read into plain dicts ---------------------------------------


def _columns() -> tuple[list[str], list[str]]:
    from vlmhb_reports import BASE_COLUMNS, TAIL_COLUMNS

    return list(BASE_COLUMNS), list(TAIL_COLUMNS)


@dataclass
class RunResults:
    run: str
    model: str
    dataset: str
    prompt: str
    task: str
    output_kind: str | None
    metrics: dict[str, Any]
    extra: dict[str, Any]
    samples_file: Path | None
    answers_file: Path | None
    scores_file: Path | None
    data_root: Path | None = None


@dataclass
class ExperimentResults:
    name: str
    report_dir: Path
    runs: list[RunResults] = field(default_factory=list)


def experiments_in(workdir: Path) -> list[str]:
    """Experiments whose report exists in ``workdir`` (what ``POST /api/import`` brings in)."""
    reports = Workdir(workdir).stage_root("report")
    if not reports.is_dir():
        return []
    return sorted(p.name for p in reports.iterdir() if (p / RUNS_INDEX_FILE).is_file())


def _run_results(found: RunResult, base: list[str], tail: list[str]) -> RunResults:
    """The server's view of one run that vlmhb-workdir read: leaderboard cells split into
    metrics (with their CIs) and the rest, plus where its per-sample files are."""
    item = found.entry
    metrics: dict[str, Any] = {}
    ci: dict[str, list[Any]] = {}
    extra: dict[str, Any] = {}
    for key, value in (found.row or {}).items():
        if key in base:
            continue
        if key in tail:
            extra[key] = value
        elif key.endswith("_ci_low") or key.endswith("_ci_high"):
            metric, _, side = key.rpartition("_ci_")
            ci.setdefault(metric, [None, None])[0 if side == "low" else 1] = value
        elif value is not None:  # blank: a metric of another task's run
            metrics[key] = value
    if ci:
        extra["ci"] = ci
    extra.update(
        infer_id=item.get("infer_id"),
        eval_id=item.get("eval_id"),
        error=item.get("error"),
        complete=item.get("complete"),
        metric_versions=item.get("metric_versions", {}),
        main_metric=item.get("main_metric") if item.get("main_metric") in metrics else None,
        per_field=found.summary.get("per_field") or {},
        higher_is_better=found.summary.get("higher_is_better") or {},  # declared directions
    )
    if found.summary:  # which metrics a paired test may be about
        extra["aggregation"] = found.summary.get("aggregation", {})
    return RunResults(
        run=item["run"],
        model=item.get("model", ""),
        dataset=item.get("dataset", ""),
        prompt=item.get("prompt", ""),
        task=item.get("task", ""),
        output_kind=((found.config.get("task") or {}).get("output") or {}).get("kind"),
        metrics=metrics,
        extra=extra,
        samples_file=found.samples_file,
        answers_file=found.answers_file,
        scores_file=found.per_sample_file,
        data_root=found.data_root,
    )


def read_results(workdir: Path, experiment: str) -> ExperimentResults:
    """Leaderboard rows and per-run file locations of a finished experiment in ``workdir``,
    as vlmhb-workdir's ``load_experiment`` reads them (``FileNotFoundError`` without a
    report)."""
    found = load_experiment(workdir, experiment)
    base, tail = _columns()
    results = ExperimentResults(experiment, found.report_dir)
    results.runs = [_run_results(run, base, tail) for run in found.runs]
    return results


def _jsonl(path: Path | None) -> Iterator[dict[str, Any]]:
    if path is None or not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a half-written last line of a killed run


_SCORE_SKIP = {"id", "doc_class", "question_type", "parse_status", "answer"}


def run_samples(run: RunResults) -> Iterator[dict[str, Any]]:
    """One dict per answered sample: question, reference, answer, scores, latency, image."""
    answers = {str(a["id"]): a for a in _jsonl(run.answers_file)}
    scores: dict[str, dict[str, Any]] = {}
    if run.scores_file is not None and run.scores_file.is_file():
        with run.scores_file.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                scores[row["id"]] = {
                    k: number(v) for k, v in row.items() if k not in _SCORE_SKIP and v != ""
                }
    for sample in _jsonl(run.samples_file):
        sid = str(sample.get("id"))
        answer = answers.get(sid)
        if answer is None:
            continue
        prompt_vars = sample.get("prompt_vars") or {}
        question = prompt_vars.get("question") or next(iter(prompt_vars.values()), None)
        reference = sample.get("reference")
        if reference is None and sample.get("label") is not None:
            reference = sample["label"]
        if reference is None and sample.get("fields") is not None:
            reference = json.dumps(sample["fields"], ensure_ascii=False)
        images = list(sample.get("images") or [])
        metadata = dict(sample.get("metadata") or {})
        metadata.update(
            {
                k: v
                for k, v in {
                    "doc_class": sample.get("doc_class"),
                    "question_type": sample.get("question_type"),
                    "parse_status": answer.get("parse_status"),
                    "error": answer.get("error"),
                    "images": images,
                    "fields": sample.get("fields"),
                }.items()
                if v is not None
            }
        )
        yield {
            "run": run.run,
            "sample_id": sid,
            "question": question,
            "reference": reference,
            "answer": answer.get("answer"),
            "scores": scores.get(sid, {}),
            "latency_s": answer.get("latency_s"),
            "image_path": images[0] if images else None,
            "doc_class": sample.get("doc_class"),
            "question_type": sample.get("question_type"),
            "metadata": metadata,
        }


def data_roots(workdir: Path) -> list[Path]:
    """Folders images may be served from: the work dir's prepared and cached data."""
    layout = Workdir(workdir)
    return [layout.generated_root, layout.cache_root, layout.stage_root("sync")]
