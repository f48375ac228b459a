"""load_experiment reads a report as the stages wrote it, and names a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vlmhb_workdir import (
    ExperimentNotFound,
    Workdir,
    WorkdirFileError,
    load_experiment,
    read_run,
    write_json,
)


def _experiment(root: Path) -> Workdir:
    layout = Workdir(root)
    write_json(layout.stage_dir("infer", "inf1") / "run.json", {"sync_id": "syn1"})
    write_json(layout.stage_dir("sync", "syn1") / "manifest.json", {"root": "/data/x"})
    write_json(layout.stage_dir("eval", "ev1") / "metrics.json", {"metrics": {"cer": 0.25}})
    entries = [
        {"run": "007", "model": "m", "infer_id": "inf1", "eval_id": "ev1"},
        {"run": "failed", "model": "m", "infer_id": None, "eval_id": None, "error": "boom"},
    ]
    report = layout.report_dir("exp")
    write_json(report / "runs.json", entries)
    (report / "leaderboard.csv").write_text(
        "run,model,cer,cer_ci_low,samples\n007,m,0.25,,3\n", encoding="utf-8"
    )
    return layout


def test_the_layout_names_each_stage_folder(tmp_path: Path) -> None:
    layout = Workdir(tmp_path)
    assert layout.stage_dir("sync", "a") == tmp_path.resolve() / "datasets" / "a"
    assert layout.stage_dir("infer", "a") == tmp_path.resolve() / "runs" / "a"
    assert layout.stage_dir("eval", "a") == tmp_path.resolve() / "evals" / "a"
    assert layout.report_dir("e") == tmp_path.resolve() / "reports" / "e"
    folder = layout.stage_dir("eval", "a")
    folder.mkdir(parents=True)
    assert not layout.is_done(folder)
    layout.mark_done(folder)
    assert layout.is_done(folder)


def test_runs_rows_and_small_files_are_read_once(tmp_path: Path) -> None:
    layout = _experiment(tmp_path)
    result = load_experiment(tmp_path, "exp")
    assert result.columns == ["run", "model", "cer", "cer_ci_low", "samples"]
    ok, failed = result.runs
    assert ok.name == "007" and ok.row is not None
    assert ok.row["run"] == "007" and ok.row["cer"] == 0.25 and ok.row["samples"] == 3
    assert ok.row["cer_ci_low"] is None
    assert ok.config == {"sync_id": "syn1"} and ok.summary == {"metrics": {"cer": 0.25}}
    assert ok.answers_file == layout.stage_dir("infer", "inf1") / "answers.jsonl"
    assert ok.per_sample_file == layout.stage_dir("eval", "ev1") / "per_sample.csv"
    assert ok.aggregate_file("general") == layout.stage_dir("eval", "ev1") / "metrics_general.csv"
    assert ok.samples_file == layout.stage_dir("sync", "syn1") / "samples.jsonl"
    assert ok.data_root == Path("/data/x")
    assert failed.row is None and failed.config == {} and failed.summary == {}
    assert failed.answers_file is None and failed.samples_file is None and failed.data_root is None


def test_a_missing_report_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ExperimentNotFound, match=r"runs\.json: missing") as caught:
        load_experiment(tmp_path, "nothing")
    assert isinstance(caught.value, FileNotFoundError)


def test_a_bad_file_names_the_file_and_entry(tmp_path: Path) -> None:
    layout = _experiment(tmp_path)
    (layout.report_dir("exp") / "runs.json").write_text(json.dumps([{"model": "m"}]))
    with pytest.raises(WorkdirFileError, match=r"runs\.json: entry 0: expected an object"):
        load_experiment(tmp_path, "exp")
    (layout.stage_dir("infer", "inf1") / "run.json").write_text("[1]")
    with pytest.raises(WorkdirFileError, match=r"run\.json: expected a JSON object"):
        read_run(tmp_path, {"run": "x", "infer_id": "inf1"})
