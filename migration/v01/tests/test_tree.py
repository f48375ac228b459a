"""A v0.1 tree -> registry entries as plain data, named so that v0.1 cells find them."""

from __future__ import annotations

from pathlib import Path

import pytest
from vlmhb_v01 import (
    V01Error,
    dataset_entry,
    parse_hf_fields,
    plan_v01_import,
    prompt_entry_name,
)

TREE = Path(__file__).parent / "fixtures" / "v01"
DATA_DIRS = TREE / "vlmhyperbench" / "data_dirs"


def _by_name(entries):
    return {(e.kind, e.name): e.data for e in entries}


@pytest.mark.parametrize("start", [TREE, TREE / "vlmhyperbench", DATA_DIRS])
def test_a_checkout_its_package_folder_or_data_dirs_give_the_same_entries(start: Path) -> None:
    entries, _ = plan_v01_import(start)
    assert ("datasets", "demo_mini") in _by_name(entries)
    assert ("models", "tesseract") in _by_name(entries)  # vlm_base.csv found beside data_dirs


def test_every_entry_of_the_tree_and_why_others_were_skipped() -> None:
    entries, notes = plan_v01_import(TREE)
    found = _by_name(entries)
    vqa = found[("datasets", "demo_mini")]
    assert vqa["iterator"] == "vqa-csv" and vqa["task"] == "vqa"
    assert vqa["source"] == str((DATA_DIRS / "Datasets" / "VQA" / "demo_mini").resolve())
    assert found[("datasets", "snils")]["iterator"] == "fields-json"
    prompt = found[("prompts", "vqa-demo_mini-tuned-surname")]
    assert prompt["collection"] == {
        "passport Фамилия": "Напиши Фамилия из паспорта.",
        "passport Имя": "Напиши Имя из паспорта.",
    }
    assert prompt["metadata"]["cer"] == {"passport Фамилия": 0.1, "passport Имя": 0.25}
    assert found[("prompts", "system-ocr")]["system_prompt"].startswith("Ты — система")
    qwen = found[("models", "Qwen-Qwen2-VL-2B-Instruct")]
    assert qwen["framework"] == "hugging-face" and qwen["resources"] == {"gpus": 1}
    assert qwen["model"] == {"model": "Qwen/Qwen2-VL-2B-Instruct", "engine": "transformers"}
    assert qwen["docker_image"] == "ghcr.io/x/qwen2:latest"
    assert qwen["metadata"]["v01_class"] == "model_qwen2_vl.models:Qwen2VLModel"
    assert "resources" not in found[("models", "tesseract")]  # OCR runs on the CPU
    assert any("docs" in n and "'Classification'" in n for n in notes)
    assert any("broken.csv:1: expected columns prompt;doc_class_question_type" in n for n in notes)


def test_the_prompt_entry_name_is_what_a_user_config_cell_refers_to() -> None:
    assert prompt_entry_name("VQA", "demo_mini/tuned/surname.csv") == "vqa-demo_mini-tuned-surname"
    assert prompt_entry_name("VQA", "demo_mini\\x.csv") == "vqa-demo_mini-x"


def test_local_weights_are_preferred_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "Qwen" / "Qwen2-VL-2B-Instruct"
    weights.mkdir(parents=True)
    monkeypatch.setenv("VLMHB_MODELS_DIR", str(tmp_path))
    entries, _ = plan_v01_import(TREE)
    qwen = _by_name(entries)[("models", "Qwen-Qwen2-VL-2B-Instruct")]
    assert qwen["model"]["model"] == str(weights)


def test_a_folder_without_v01_data_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(V01Error, match=r"no v0.1 data here; expected a folder holding data_dirs"):
        plan_v01_import(tmp_path)


def test_dataset_entries_for_s3_and_hugging_face(tmp_path: Path) -> None:
    s3 = dataset_entry("s3://bucket/VQA/demo/", "vqa")
    assert (s3.name, s3.data["source"]) == ("demo", "s3://bucket/VQA/demo/")
    fields = parse_hf_fields("id=qid,image=img,image=img2,answers=a,prompt_vars.ctx=c", "x, y")
    assert fields == {
        "id": "qid",
        "image": ["img", "img2"],
        "answers": "a",
        "prompt_vars": {"ctx": "c"},
        "metadata": ["x", "y"],
    }
    hub = dataset_entry("hf://lmms-lab/DocVQA@abc", "vqa", fields={"answers": "a"}, split="val")
    assert hub.name == "DocVQA" and hub.data["source"] == "hf://lmms-lab/DocVQA"
    assert hub.data["options"] == {"split": "val", "revision": "abc", "fields": {"answers": "a"}}
    parquet = tmp_path / "train.parquet"
    parquet.write_bytes(b"PAR1")
    local = dataset_entry(str(parquet), "vqa", fields={"label": "l"})
    assert local.name == "train" and "hub" not in local.data["metadata"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("id", r"'id' is not role=column"),
        ("colour=c,answers=a", r"unknown role 'colour'"),
        ("id=a,id=b,answers=a", r"'id' given twice"),
        ("id=a", r"no answers=<column>"),
        ("prompt_vars.1x=c,answers=a", r"expected prompt_vars.<variable name>"),
    ],
)
def test_a_bad_fields_spec_names_the_item(spec: str, message: str) -> None:
    with pytest.raises(V01Error, match=message):
        parse_hf_fields(spec)


def test_bad_dataset_paths_say_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(V01Error, match=r"no dataset layout found; expected annotation.csv"):
        dataset_entry(tmp_path, "vqa")
    with pytest.raises(V01Error, match=r"a Hub id\? write hf://owner/name"):
        dataset_entry("owner/name", "vqa")
    with pytest.raises(V01Error, match=r"say which column is what with --fields"):
        dataset_entry("hf://owner/name", "vqa")
    with pytest.raises(V01Error, match=r"--fields, --metadata, --config"):
        dataset_entry(DATA_DIRS / "Datasets" / "VQA" / "demo_mini", "vqa", split="x")
