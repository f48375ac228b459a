"""The ``v01`` report kind: answers and metrics where, and as, VLMHyperBench v0.1 wrote them.

Beside each run's ``answers.jsonl``: ``runs/<infer_id>/answers.csv`` (``id;model_answer`` plus
telemetry columns, in dataset order; the infer stage wrote it until the core stopped writing
v0.1 files). Under the experiment's report folder:
``ModelsAnswers/<model>_<dataset>_<prompt>.csv`` (``id;model_answer``) and
``ModelsMetrics/<model>_<dataset>_<prompt>_<aggregator>.csv`` for ``by_id`` (with the question
and the reference answer) and each aggregator the run computed (``by_doc_question``,
``by_doc_type``, ``general``): ``;``-separated UTF-8 with a BOM, metric columns named as v0.1
named them (upper case: CER, WER, ANLS...).

It reads only the files the stages wrote in the work dir (``runs/<infer_id>/run.json``,
``datasets/<sync_id>/samples.jsonl``, ``evals/<eval_id>/*.csv``), found and read with
vlmhb-workdir (the layout's one owner), never the core, so a v0.1 export can be written from
a finished work dir wherever this package is installed. The report
stage calls it through the entry-point group ``vlmhyperbench.reports``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vlmhb_workdir import (
    ANSWERS_FILE,
    PER_SAMPLE_FILE,
    RUN_CONFIG_FILE,
    RunResult,
    Workdir,
    WorkdirFileError,
    aggregate_file,
    read_csv_text,
    read_jsonl,
    read_run,
)

V01_GROUP_COLUMNS = {
    "by_doc_type": ["doc_class"],
    "by_doc_question": ["doc_class", "question_type"],
}
V01_AGGREGATORS = ("by_doc_question", "by_doc_type", "general")
_PER_SAMPLE_FIXED = {"id", "doc_class", "question_type", "parse_status", "answer"}
_PER_SAMPLE_REQUIRED = ("id", "doc_class", "question_type", "answer")


class ExportError(ValueError):
    """A work-dir file the export needs is missing or not what the stages write; the message
    names the file (and the run)."""


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


ANSWER_COLUMNS = (
    "id",
    "model_answer",
    "parse_status",
    "error",
    "latency_s",
    "prompt_tokens",
    "completion_tokens",
)


def write_answers_csv(path: Path, answers: list[Mapping[str, Any]]) -> None:
    """One infer stage's answers as v0.1 wrote them (``id;model_answer``) plus telemetry
    columns; ``answers`` are answer records as dicts (``answers.jsonl`` lines)."""
    rows = [
        [
            a.get("id"),
            a.get("answer") or "",
            a.get("parse_status"),
            a.get("error") or "",
            a.get("latency_s"),
            a.get("prompt_tokens"),
            a.get("completion_tokens"),
        ]
        for a in answers
    ]
    _write(path, list(ANSWER_COLUMNS), rows)


def read_answer_records(path: Path) -> dict[str, dict[str, Any]]:
    """The last record of each sample in an ``answers.jsonl``, by id.

    A retried sample appears once per attempt (the last one counts, as for the stages); a
    half-written last line (a killed run) is left out; any other bad line is an
    :class:`ExportError` naming the file and line.
    """
    lines = path.read_text(encoding="utf-8").split("\n")
    records: dict[str, dict[str, Any]] = {}
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if line_no == len(lines):  # no newline after it: cut off while being written
                continue
            raise ExportError(f"{path}:{line_no}: expected an answer record as JSON") from exc
        if not isinstance(record, dict) or "id" not in record:
            raise ExportError(f"{path}:{line_no}: expected an answer record with an id")
        records[str(record["id"])] = record
    return records


def write_run_answers(workdir: Path, infer_id: str) -> Path | None:
    """``runs/<infer_id>/answers.csv`` from the stage's ``answers.jsonl``, in the dataset's
    sample order (the records' own order if the synced samples are gone); ``None`` (nothing
    written) when the stage has no answers."""
    layout = Workdir(workdir)
    folder = layout.stage_dir("infer", infer_id)
    answers_path = folder / ANSWERS_FILE
    if not answers_path.is_file():
        return None
    records = read_answer_records(answers_path)
    try:  # the stage answered in the dataset's order; so does the file
        order = [i for i in _samples(_run(layout, {"infer_id": infer_id})) if i in records]
    except ExportError:
        order = []
    listed = set(order)
    ordered = [records[i] for i in order] + [r for i, r in records.items() if i not in listed]
    target = folder / "answers.csv"
    write_answers_csv(target, ordered)
    return target


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        return read_csv_text(path)
    except WorkdirFileError as exc:
        raise ExportError(str(exc)) from exc


def _run(layout: Workdir, entry: Mapping[str, Any]) -> RunResult:
    """The run's stage folders and its ``run.json`` (which names the dataset's sync stage)."""
    run_json = layout.stage_dir("infer", str(entry["infer_id"])) / RUN_CONFIG_FILE
    if not run_json.is_file():
        raise ExportError(
            f"{run_json}: not found; expected the inference stage's record with its sync_id"
        )
    try:
        found = read_run(layout, entry)
    except WorkdirFileError as exc:
        raise ExportError(
            f"{exc}; expected the inference stage's record with its sync_id as JSON"
        ) from exc
    if found.samples_file is None:
        raise ExportError(f"{run_json}: sync_id: expected the id of the dataset's sync stage")
    return found


def _samples(found: RunResult) -> dict[str, dict[str, Any]]:
    path = found.samples_file
    if path is None or not path.is_file():
        raise ExportError(f"{path}: not found; expected the synced dataset's samples")
    try:
        return read_jsonl(path)
    except WorkdirFileError as exc:
        raise ExportError(f"{exc}; expected a JSON sample") from exc


def _reference(sample: dict[str, Any]) -> str:
    value = sample.get("reference")
    if value is None and sample.get("fields") is not None:
        return json.dumps(sample["fields"], ensure_ascii=False)
    if isinstance(value, list):  # several accepted answers
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def write_v01(out: Path, runs: list[Mapping[str, Any]], workdir: Path) -> None:
    """Write the v0.1 files of every run: its ``answers.csv`` (every run that has answers),
    and ``ModelsAnswers/``, ``ModelsMetrics/`` into ``out`` (every evaluated run).

    ``runs`` are the entries of the experiment's ``runs.json`` (``model``, ``dataset``,
    ``prompt``, ``infer_id``, ``eval_id``...); ``workdir`` is the work-dir root. Runs without
    an evaluation (failed, or inference only) get no report files, as v0.1 had none for them.
    """
    out, layout = Path(out), Workdir(workdir)
    for entry in runs:
        infer_id, eval_id = entry.get("infer_id"), entry.get("eval_id")
        if infer_id:
            write_run_answers(workdir, infer_id)
        if not infer_id or not eval_id:
            continue
        eval_dir = layout.stage_dir("eval", str(eval_id))
        per_sample_path = eval_dir / PER_SAMPLE_FILE
        if not per_sample_path.exists():
            continue
        stem = f"{entry['model']}_{entry['dataset']}_{entry['prompt']}"
        per_sample = _read_csv(per_sample_path)
        missing = [c for c in _PER_SAMPLE_REQUIRED if per_sample and c not in per_sample[0]]
        if missing:
            raise ExportError(
                f"{per_sample_path}: missing columns {', '.join(missing)} (run "
                f"{entry.get('run')!r}); expected {', '.join(_PER_SAMPLE_REQUIRED)} and metrics"
            )
        metric_columns = (
            [c for c in per_sample[0] if c not in _PER_SAMPLE_FIXED] if per_sample else []
        )
        _write(
            out / "ModelsAnswers" / f"{stem}.csv",
            ["id", "model_answer"],
            [[r["id"], r["answer"]] for r in per_sample],
        )
        samples = _samples(_run(layout, entry))
        by_id = []
        for r in per_sample:
            sample = samples.get(r["id"], {})
            question = (sample.get("prompt_vars") or {}).get("question", "")
            by_id.append(
                [r["id"], r["doc_class"], r["question_type"], question, _reference(sample)]
                + [r["answer"]]
                + [r[m] for m in metric_columns]
            )
        header = ["id", "doc_class", "question_type", "question", "answer", "model_answer"]
        _write(
            out / "ModelsMetrics" / f"{stem}_by_id.csv",
            header + [m.upper() for m in metric_columns],
            by_id,
        )
        for aggregator in V01_AGGREGATORS:
            path = eval_dir / aggregate_file(aggregator)
            if not path.exists():
                continue
            rows = _read_csv(path)
            groups = V01_GROUP_COLUMNS.get(aggregator, [])
            metrics = [c for c in (rows[0] if rows else {}) if c not in groups and c != "samples"]
            _write(
                out / "ModelsMetrics" / f"{stem}_{aggregator}.csv",
                groups + [m.upper() for m in metrics],
                [[r[c] for c in groups + metrics] for r in rows],
            )
