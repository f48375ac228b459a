"""user_config.csv cells read into typed rows; each bad cell kept as `file:row: column: ...`."""

from __future__ import annotations

from pathlib import Path

import pytest
from vlmhb_v01 import UserConfigError, prompt_collection_files, read_user_config

TREE = Path(__file__).parent / "fixtures" / "v01" / "vlmhyperbench"
HEADER = (
    "\ufeffdataset;task;framework;model_name;system_prompt;prompt_collection;metrics;"
    "only_evaluate_metrics;metrics_aggregators;filter_doc_class;filter_question_type\n"
)


def test_a_v01_user_config_as_users_have_it() -> None:
    [row] = read_user_config(TREE / "user_config.csv")
    assert (row.dataset, row.task, row.model_name) == (
        "demo_mini",
        "VQA",
        "Qwen/Qwen2-VL-2B-Instruct",
    )
    assert row.framework == "Hugging Face" and row.framework_entry == "hugging-face"
    assert row.metrics == ["WER", "CER"]
    assert row.metrics_aggregators == ["by_id", "by_doc_question", "by_doc_type", "general"]
    assert row.filter_doc_class == ["passport"]
    assert row.filter_question_type == ["Фамилия", "Имя"]
    assert row.only_evaluate_metrics is False and row.system_prompt == ""
    assert row.prompt_collection == "demo_mini/tuned/surname.csv"
    assert row.where.endswith("user_config.csv:2") and row.problems == {}


def test_cells_v01_wrote_in_other_ways(tmp_path: Path) -> None:
    path = tmp_path / "user_config.csv"
    path.write_text(
        HEADER + "d;;ocr;m;Будь краток.;;CER;да;;None;nan\n" + "d;VQA;;m;;;[];1;[];[];\n",
        encoding="utf-8",
    )
    first, second = read_user_config(path)
    assert first.metrics == ["CER"] and first.only_evaluate_metrics is True
    assert first.metrics_aggregators == ["general"]  # v0.1's default
    assert first.filter_doc_class == [] and first.filter_question_type == []
    assert first.prompt_task == "VQA" and first.system_prompt == "Будь краток."
    assert second.metrics == [] and second.only_evaluate_metrics is True
    assert second.framework_entry is None and not second.problems


def test_every_bad_cell_is_kept_under_its_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "d;VQA;Torch;m;;;['CER';False;['general', 'by_planet'];[1, 2];x\n",
        encoding="utf-8",
    )
    [row] = read_user_config(path)
    assert row.problems == {
        "framework": f"{path}:2: framework: expected one of Hugging Face, vLLM, OCR, DeepSeek, "
        "got 'Torch'",
        "metrics": f"{path}:2: metrics: expected a Python list literal like ['a', 'b'], "
        "got \"['CER'\"",
        "metrics_aggregators": f"{path}:2: metrics_aggregators: expected some of general, "
        "by_doc_type, by_doc_question, by_id, got ['by_planet']",
        "filter_doc_class": f"{path}:2: filter_doc_class: expected a list of strings, got '[1, 2]'",
    }
    assert row.metrics == [] and row.filter_question_type == ["x"]


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "user_config.csv"
    path.write_text("dataset;model\nd;m\n", encoding="utf-8")
    with pytest.raises(
        UserConfigError, match=r"user_config.csv:1: missing columns task, model_name"
    ):
        read_user_config(path)
    path.write_text(HEADER, encoding="utf-8")
    with pytest.raises(
        UserConfigError, match=r"user_config.csv: no rows; expected one run per row"
    ):
        read_user_config(path)
    with pytest.raises(UserConfigError, match=r"missing.csv: cannot read"):
        read_user_config(tmp_path / "missing.csv")


def test_collection_files_are_looked_for_where_v01_kept_them() -> None:
    config = TREE / "user_config.csv"
    tried = prompt_collection_files(config, "VQA", "demo_mini/tuned/surname.csv")
    found = [p for p in tried if p.is_file()]
    assert found[0] == TREE / "data_dirs" / "PromptCollections" / "VQA" / "demo_mini" / "tuned" / (
        "surname.csv"
    )
    assert tried[-1] == TREE / "demo_mini" / "tuned" / "surname.csv"  # beside the config, last
