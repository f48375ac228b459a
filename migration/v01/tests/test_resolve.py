"""user_config rows resolved against a registry seen as plain dicts: no core needed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from vlmhb_v01 import V01_REPORTS, RegistryView, UserConfigError, resolve_user_config

HEADER = (
    "\ufeffdataset;task;framework;model_name;system_prompt;prompt_collection;metrics;"
    "only_evaluate_metrics;metrics_aggregators;filter_doc_class;filter_question_type\n"
)
ENTRIES: dict[str, dict[str, dict[str, Any]]] = {
    "datasets": {"docs-vqa": {"task": "vqa"}, "forms": {"task": "extract"}},
    "tasks": {"vqa": {}, "extract": {}},
    "models": {"tesseract": {"framework": "ocr"}, "anything": {"framework": None}},
    "metrics": {"cer": {}, "accuracy": {}},
    "prompts": {
        "plain": {"template": "{question}", "collection": {}, "response_format": "text"},
        "vqa-tuned": {
            "template": None,
            "system_prompt": "Отвечай по-русски.",
            "collection": {"passport Фамилия": "Фамилия?"},
            "response_format": "json_schema",
        },
    },
}


class DictRegistry:
    """A RegistryView over nested dicts: kind -> name -> entry."""

    def __init__(self, entries: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.entries = copy.deepcopy(entries)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries.get(kind, {}))

    def entry(self, kind: str, name: str) -> dict[str, Any]:
        return self.entries[kind][name]


REGISTRY: RegistryView = DictRegistry(ENTRIES)


def _config(tmp_path: Path, *rows: str, name: str = "user_config.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def test_rows_become_inline_runs_as_plain_data(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        "docs-vqa;VQA;OCR;tesseract;;plain;['CER'];True;['by_id', 'general'];['passport'];",
        "DOCS-VQA;vqa;;Tesseract;;vqa-tuned;[];no;;;['Фамилия']",
    )
    experiment, prompts = resolve_user_config(path, REGISTRY)
    assert prompts == {}
    assert experiment == {
        "name": "user_config",
        "reports": V01_REPORTS,
        "runs": [
            {
                "name": "row1-tesseract-docs-vqa",
                "task": "vqa",
                "model": "tesseract",
                "dataset": "docs-vqa",
                "prompt": "plain",
                "metrics": ["cer"],
                "aggregators": ["by_id", "general"],
                "filters": {"doc_class": ["passport"], "question_type": None},
                "only_evaluate": True,
            },
            {
                "name": "row2-tesseract-docs-vqa",
                "task": "vqa",
                "model": "tesseract",
                "dataset": "docs-vqa",
                "prompt": "vqa-tuned",
                "metrics": None,
                "aggregators": ["general"],
                "filters": {"doc_class": None, "question_type": ["Фамилия"]},
                "only_evaluate": False,
            },
        ],
    }


def test_a_system_prompt_makes_a_new_prompt_entry(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        "docs-vqa;VQA;OCR;tesseract;Отвечай кратко.;;['CER'];False;;;",
        "docs-vqa;VQA;OCR;tesseract;sys3;tuned;[];False;;;",
    )
    experiment, prompts = resolve_user_config(path, REGISTRY)
    # The names are those the core has always generated: earlier work dirs stay valid.
    assert [run["prompt"] for run in experiment["runs"]] == [
        "user-question-a4ebcc31",
        "user-tuned-63d83324",
    ]
    assert prompts["user-question-a4ebcc31"] == {
        "name": "user-question-a4ebcc31",
        "template": "{question}",
        "collection": None,
        "system_prompt": "Отвечай кратко.",
        "response_format": "text",
    }
    # `tuned` is the imported entry `vqa-tuned`: its resolved collection and format carry over.
    assert prompts["user-tuned-63d83324"] == {
        "name": "user-tuned-63d83324",
        "template": None,
        "collection": {"passport Фамилия": "Фамилия?"},
        "system_prompt": "sys3",
        "response_format": "json_schema",
    }


def test_a_collection_csv_beside_the_config_joins_the_inherited_one(tmp_path: Path) -> None:
    folder = tmp_path / "data_dirs" / "PromptCollections" / "VQA"
    folder.mkdir(parents=True)
    (folder / "mine.csv").write_text(
        "\ufeffprompt;doc_class_question_type;cer\nДата?;passport Дата;0.2\n", encoding="utf-8"
    )
    path = _config(tmp_path, "docs-vqa;VQA;OCR;tesseract;;mine.csv;[];False;;;")
    experiment, prompts = resolve_user_config(path, REGISTRY)
    [run] = experiment["runs"]
    assert run["prompt"] == "user-mine-1a455070"
    assert prompts[run["prompt"]]["collection"] == {"passport Дата": "Дата?"}
    assert prompts[run["prompt"]]["system_prompt"] is None


def test_every_problem_of_every_row_in_row_then_column_order(tmp_path: Path) -> None:
    (tmp_path / "broken.csv").write_text("oops\n", encoding="utf-8")
    path = _config(
        tmp_path,
        "no_such;VQA;Hugging Face;tesseract;;missing/x.csv;['CER', 'BLEURT'];False;"
        "['general', 'by_planet'];;",
        ";;Torch;;;;['CER';False;;[1];x",
        "forms;VQA;vLLM;tesseract;;broken.csv;;False;;;",
        "docs-vqa;extract;OCR;nomodel;;plain;;False;;;",
        "docs-vqa;VQA;OCR;anything;;plain;;False;;;",  # no framework on the model: any cell
        name="bad.csv",
    )
    with pytest.raises(UserConfigError) as raised:
        resolve_user_config(path, REGISTRY)
    at = f"{path}:"
    assert raised.value.problems == [
        f"{at}2: dataset: no datasets entry named 'no_such' (known: docs-vqa, forms); bring a "
        "v0.1 dataset in with `vlmhb import v01 PATH` or `vlmhb import dataset`",
        f"{at}2: framework: 'Hugging Face' does not serve model 'tesseract', whose framework "
        "is 'ocr'; fix the cell or the model",
        f"{at}2: metrics: no metrics entry named 'BLEURT' (known: accuracy, cer)",
        f"{at}2: metrics_aggregators: expected some of general, by_doc_type, by_doc_question, "
        "by_id, got ['by_planet']",
        f"{at}2: prompt_collection: 'missing/x.csv' is neither a prompt entry, nor imported as "
        "'vqa-missing-x', nor a CSV under PromptCollections/VQA/ or beside bad.csv; run "
        "`vlmhb import v01 PATH` or `vlmhb import prompts FILE NAME`",
        f"{at}3: dataset: expected the name of a datasets entry, got an empty cell",
        f"{at}3: task: expected the name of a tasks entry, got an empty cell",
        f"{at}3: model_name: expected the name of a models entry, got an empty cell",
        f"{at}3: metrics: expected a Python list literal like ['a', 'b'], got \"['CER'\"",
        f"{at}3: filter_doc_class: expected a list of strings, got '[1]'",
        f"{at}4: framework: 'vLLM' does not serve model 'tesseract', whose framework is 'ocr'; "
        "fix the cell or the model",
        f"{at}4: task: dataset 'forms' is annotated for task 'extract'",
        f"{at}4: prompt_collection: {tmp_path / 'broken.csv'}:1: expected columns "
        "prompt;doc_class_question_type, missing prompt, doc_class_question_type (found oops)",
        f"{at}5: model_name: no models entry named 'nomodel' (known: anything, tesseract)",
        f"{at}5: task: dataset 'docs-vqa' is annotated for task 'vqa'",
        f"15 problem(s) in {path}",
    ]


def test_an_unknown_framework_cell_is_reported_once_the_model_is_known(tmp_path: Path) -> None:
    path = _config(tmp_path, "docs-vqa;VQA;Torch;tesseract;;plain;;False;;;")
    with pytest.raises(UserConfigError) as raised:
        resolve_user_config(path, REGISTRY)
    assert raised.value.problems == [
        f"{path}:2: framework: expected one of Hugging Face, vLLM, OCR, DeepSeek, got 'Torch'",
        f"1 problem(s) in {path}",
    ]


def test_an_empty_registry_says_none_is_known(tmp_path: Path) -> None:
    path = _config(tmp_path, "d;t;;m;;;;False;;;")
    with pytest.raises(UserConfigError, match=r"no datasets entry named 'd' \(known: none\)"):
        resolve_user_config(path, DictRegistry({}))
