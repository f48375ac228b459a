"""The ``v01`` report kind: answers and metrics where, and as, VLMHyperBench v0.1 wrote them.

Under the experiment's report folder: ``ModelsAnswers/<model>_<dataset>_<prompt>.csv``
(``id;model_answer``) and ``ModelsMetrics/<model>_<dataset>_<prompt>_<aggregator>.csv`` for
``by_id`` (with the question and the reference answer) and each aggregator the run computed
(``by_doc_question``, ``by_doc_type``, ``general``): ``;``-separated UTF-8 with a BOM, metric
columns named as v0.1 named them (upper case: CER, WER, ANLS...).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..execution.report import EXTRA_REPORTS
from ..execution.stages import RunResult
from ..workdir import Workdir, read_json

V01_GROUP_COLUMNS = {
    "by_doc_type": ["doc_class"],
    "by_doc_question": ["doc_class", "question_type"],
}


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _samples(workdir: Workdir, infer_id: str) -> dict[str, dict[str, Any]]:
    run = read_json(workdir.stage_dir("infer", infer_id) / "run.json")
    path = workdir.stage_dir("sync", run["sync_id"]) / "samples.jsonl"
    with path.open(encoding="utf-8") as handle:
        samples = [json.loads(line) for line in handle if line.strip()]
    return {str(s["id"]): s for s in samples}


def _reference(sample: dict[str, Any]) -> str:
    value = sample.get("reference")
    if value is None and sample.get("fields") is not None:
        return json.dumps(sample["fields"], ensure_ascii=False)
    if isinstance(value, list):  # several accepted answers
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def write_v01(out: Path, results: list[RunResult], workdir: Workdir) -> None:
    for result in results:
        if not result.infer_id or not result.eval_id:
            continue
        eval_dir = workdir.stage_dir("eval", result.eval_id)
        per_sample_path = eval_dir / "per_sample.csv"
        if not per_sample_path.exists():
            continue
        run = result.run
        stem = f"{run.model.name}_{run.dataset.name}_{run.prompt.name}"
        per_sample = _read_csv(per_sample_path)
        metric_columns = (
            [c for c in per_sample[0] if c not in _PER_SAMPLE_FIXED] if per_sample else []
        )
        _write(
            out / "ModelsAnswers" / f"{stem}.csv",
            ["id", "model_answer"],
            [[r["id"], r["answer"]] for r in per_sample],
        )
        samples = _samples(workdir, result.infer_id)
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
        for aggregator in ("by_doc_question", "by_doc_type", "general"):
            path = eval_dir / f"metrics_{aggregator}.csv"
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


_PER_SAMPLE_FIXED = {"id", "doc_class", "question_type", "parse_status", "answer"}

EXTRA_REPORTS["v01"] = write_v01
