"""vlm_base.csv and prompt collection CSVs: read as users have them, bad input named by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from vlmhb_v01 import (
    PromptCollectionError,
    V01Error,
    VlmBaseError,
    model_entries,
    read_prompt_collection,
    read_vlm_base,
)

TREE = Path(__file__).parent / "fixtures" / "v01" / "vlmhyperbench"
HEADER = "framework;model_family;model_name;docker_image;git_python_package;python_package;"


def test_vlm_base_rows_keep_their_line() -> None:
    rows = read_vlm_base(TREE / "vlm_base.csv")
    assert [(r["model_name"], r["_line"]) for r in rows] == [
        ("Qwen/Qwen2-VL-2B-Instruct", "2"),
        ("tesseract", "3"),
    ]


def test_vlm_base_problems_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "vlm_base.csv"
    path.write_text("framework;model_name\nHugging Face;x\n", encoding="utf-8")
    with pytest.raises(VlmBaseError, match=r"vlm_base.csv:1: missing columns model_family"):
        read_vlm_base(path)
    path.write_text(HEADER + "module;class_name\nOCR;f;;;;;m;c\n", encoding="utf-8")
    with pytest.raises(VlmBaseError, match=r"vlm_base.csv:2: column 'model_name' is empty"):
        read_vlm_base(path)
    with pytest.raises(VlmBaseError, match=r"nothing.csv: file not found"):
        read_vlm_base(tmp_path / "nothing.csv")


def test_every_bad_model_row_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "vlm_base.csv"
    path.write_text(
        HEADER + "module;class_name\nTorch;f;a;;;p;m;c\nOCR;f;b;;;p;m;c\nOCR;f;b;;;p;m;c\n",
        encoding="utf-8",
    )
    with pytest.raises(V01Error) as caught:
        model_entries(path)
    assert str(caught.value).splitlines() == [
        f"{path}:2: framework: expected one of Hugging Face, vLLM, OCR, DeepSeek, got 'Torch'",
        f"{path}:4: model_name: 'b' appears twice",
    ]


def test_prompt_collection_with_a_bom_and_a_cer_column() -> None:
    path = TREE / "data_dirs" / "PromptCollections" / "VQA" / "demo_mini" / "tuned" / "surname.csv"
    assert read_prompt_collection(path)["passport Имя"] == "Напиши Имя из паспорта."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("text;key\nx;y\n", r":1: expected columns prompt;doc_class_question_type, missing"),
        ("prompt;doc_class_question_type\n;passport x\n", r":2: expected a prompt and a"),
        ("prompt;doc_class_question_type\na;k\nb;k\n", r":3: duplicate key 'k'"),
    ],
)
def test_prompt_collection_problems_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PromptCollectionError, match=message):
        read_prompt_collection(path)


def test_prompt_collection_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("prompt;doc_class_question_type\nФамилия;k\n".encode("cp1251"))
    with pytest.raises(PromptCollectionError, match=r"c.csv: expected UTF-8 text"):
        read_prompt_collection(path)
