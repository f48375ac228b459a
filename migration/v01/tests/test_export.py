"""The `v01` report kind: ModelsAnswers/ and ModelsMetrics/ written from a work dir alone."""

from __future__ import annotations

import csv
import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from vlmhb_v01 import ExportError, write_v01

PER_SAMPLE = (
    "id,doc_class,question_type,parse_status,answer,cer,wer\n"
    "0,passport,Фамилия,ok,Иванов,0.0,0.0\n"
    "1,passport,Имя,ok,Петр,0.2,1.0\n"
    "2,snils,fields,failed,,1.0,1.0\n"
)
SAMPLES = [
    {"id": 0, "prompt_vars": {"question": "Напиши Фамилия"}, "reference": "Иванов"},
    {"id": 1, "prompt_vars": {"question": "Напиши Имя"}, "reference": ["Пётр", "Петр"]},
    {"id": 2, "fields": {"Пол": "М"}},
]
RUN = {
    "run": "r1",
    "model": "tesseract",
    "dataset": "demo_mini",
    "prompt": "vqa-demo",
    "task": "vqa",
    "infer_id": "i1",
    "eval_id": "e1",
    "error": None,
    "complete": True,
    "metric_versions": {"cer": "1"},
}


def make_workdir(root: Path) -> Path:
    """The files the stages write for one evaluated run (the layout vlmhb-workdir owns)."""
    (root / "runs" / "i1").mkdir(parents=True)
    (root / "runs" / "i1" / "run.json").write_text(json.dumps({"sync_id": "s1"}), "utf-8")
    (root / "datasets" / "s1").mkdir(parents=True)
    lines = [json.dumps(s, ensure_ascii=False) for s in SAMPLES]
    (root / "datasets" / "s1" / "samples.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    evals = root / "evals" / "e1"
    evals.mkdir(parents=True)
    (evals / "per_sample.csv").write_text(PER_SAMPLE, encoding="utf-8")
    (evals / "metrics_general.csv").write_text("cer,wer,samples\n0.4,0.667,3\n", "utf-8")
    (evals / "metrics_by_doc_type.csv").write_text(
        "doc_class,cer,wer,samples\npassport,0.1,0.5,2\nsnils,1.0,1.0,1\n", "utf-8"
    )
    (evals / "metrics_by_doc_question.csv").write_text(
        "doc_class,question_type,cer,wer,samples\npassport,Фамилия,0.0,0.0,1\n", "utf-8"
    )
    return root


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))


def test_writes_answers_and_every_aggregator_as_v01_did(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    out = tmp_path / "report"
    write_v01(out, [RUN], workdir)
    answers = out / "ModelsAnswers" / "tesseract_demo_mini_vqa-demo.csv"
    raw = answers.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, as v0.1 wrote
    assert raw.decode("utf-8-sig") == "id;model_answer\r\n0;Иванов\r\n1;Петр\r\n2;\r\n"
    metrics = out / "ModelsMetrics"
    assert _rows(metrics / "tesseract_demo_mini_vqa-demo_by_id.csv") == [
        ["id", "doc_class", "question_type", "question", "answer", "model_answer", "CER", "WER"],
        ["0", "passport", "Фамилия", "Напиши Фамилия", "Иванов", "Иванов", "0.0", "0.0"],
        ["1", "passport", "Имя", "Напиши Имя", "Пётр; Петр", "Петр", "0.2", "1.0"],
        ["2", "snils", "fields", "", '{"Пол": "М"}', "", "1.0", "1.0"],
    ]
    assert _rows(metrics / "tesseract_demo_mini_vqa-demo_general.csv") == [
        ["CER", "WER"],
        ["0.4", "0.667"],
    ]
    assert _rows(metrics / "tesseract_demo_mini_vqa-demo_by_doc_type.csv")[0] == [
        "doc_class",
        "CER",
        "WER",
    ]
    assert _rows(metrics / "tesseract_demo_mini_vqa-demo_by_doc_question.csv") == [
        ["doc_class", "question_type", "CER", "WER"],
        ["passport", "Фамилия", "0.0", "0.0"],
    ]
    assert not list(out.rglob("*.tmp"))


def test_runs_without_an_evaluation_are_left_out(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    out = tmp_path / "report"
    failed = {**RUN, "eval_id": None, "error": "server died"}
    not_written = {**RUN, "eval_id": "e-missing"}
    write_v01(out, [failed, not_written], workdir)
    assert not out.exists()


def test_a_missing_run_record_names_the_file(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    (workdir / "runs" / "i1" / "run.json").unlink()
    with pytest.raises(ExportError, match=r"runs/i1/run.json: not found"):
        write_v01(tmp_path / "report", [RUN], workdir)


def test_a_per_sample_file_without_its_columns_names_them(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    (workdir / "evals" / "e1" / "per_sample.csv").write_text("id,cer\n0,0.1\n", "utf-8")
    with pytest.raises(ExportError, match=r"per_sample.csv: missing columns doc_class"):
        write_v01(tmp_path / "report", [RUN], workdir)


def test_the_v01_kind_is_an_entry_point_of_the_reports_group() -> None:
    [kind] = [ep for ep in entry_points(group="vlmhyperbench.reports") if ep.name == "v01"]
    assert kind.load() is write_v01
