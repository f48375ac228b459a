"""The `v01` report kind writes each run's answers.csv beside its answers.jsonl, as the infer
stage did before the core stopped writing v0.1 files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_export import RUN, make_workdir
from vlmhb_v01 import ExportError, write_run_answers, write_v01

HEADER = "id;model_answer;parse_status;error;latency_s;prompt_tokens;completion_tokens"


def _answers(workdir: Path, records: list[dict], tail: str = "") -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path = workdir / "runs" / "i1" / "answers.jsonl"
    path.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")


def _text(workdir: Path) -> str:
    raw = (workdir / "runs" / "i1" / "answers.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, like every v0.1 file
    return raw.decode("utf-8-sig")


def test_answers_csv_in_dataset_order_with_the_last_attempt(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    _answers(
        workdir,
        [
            {"id": "1", "answer": None, "parse_status": "failed", "error": "timeout"},
            {
                "id": "0",
                "answer": "Иванов",
                "parse_status": "text",
                "latency_s": 0.25,
                "prompt_tokens": 12,
                "completion_tokens": 3,
            },
            {"id": "1", "answer": "Петр", "parse_status": "text", "latency_s": 0.5},
        ],
        tail='{"id": "2", "ans',  # a killed run's half-written line
    )
    write_v01(tmp_path / "report", [{**RUN, "eval_id": None}], workdir)
    assert _text(workdir) == (f"{HEADER}\r\n0;Иванов;text;;0.25;12;3\r\n1;Петр;text;;0.5;;\r\n")
    assert not (tmp_path / "report" / "ModelsAnswers").exists()  # not evaluated: no export


def test_a_run_without_answers_gets_no_file(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    assert write_run_answers(workdir, "i1") is None
    assert not (workdir / "runs" / "i1" / "answers.csv").exists()


def test_without_the_synced_samples_the_records_keep_their_order(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    (workdir / "datasets" / "s1" / "samples.jsonl").unlink()
    _answers(
        workdir,
        [
            {"id": "b", "answer": "x", "parse_status": "text"},
            {"id": "a", "answer": "y", "parse_status": "text"},
        ],
    )
    write_run_answers(workdir, "i1")
    assert _text(workdir) == f"{HEADER}\r\nb;x;text;;;;\r\na;y;text;;;;\r\n"


def test_a_bad_line_names_the_file_and_line(tmp_path: Path) -> None:
    workdir = make_workdir(tmp_path / "work")
    _answers(workdir, [{"id": "0", "answer": "x", "parse_status": "text"}], tail="oops\n")
    with pytest.raises(ExportError, match=r"runs/i1/answers.jsonl:2: expected an answer record"):
        write_run_answers(workdir, "i1")
