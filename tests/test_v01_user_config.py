"""``vlmhb run --user-config``'s reader (vlmhb-v01, found through the entry-point group
``vlmhyperbench.user_config``) against the core's registry: rows become runs, bad cells are
reported by row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_factory import write_registry
from vlmhyperbench.execution.user_config import UserConfigError, experiment_from_user_config
from vlmhyperbench.registry import RegistryLoader


def _registry(tmp_path: Path, entries=None, mode: str = "prod"):
    return RegistryLoader(write_registry(tmp_path, entries), mode=mode).load()


USER_CONFIG = (
    "\ufeffdataset;task;framework;model_name;system_prompt;prompt_collection;metrics;"
    "only_evaluate_metrics;metrics_aggregators;filter_doc_class;filter_question_type\n"
    "docs-vqa;VQA;OCR;tesseract;Отвечай кратко.;;['CER'];False;['by_id', 'general'];['passport'];\n"
    "docs-vqa;VQA;OCR;tesseract;;plain;['CER'];True;['general'];;['Фамилия']\n"
)


def test_user_config_rows_become_runs(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    path = tmp_path / "user_config.csv"
    path.write_text(USER_CONFIG, encoding="utf-8")
    experiment, prompts = experiment_from_user_config(path, registry)
    first, second = experiment.runs
    assert first.task == "vqa" and first.model == "tesseract" and first.metrics == ["cer"]
    assert first.filters.doc_class == ["passport"] and first.filters.question_type is None
    assert second.filters.doc_class is None and second.filters.question_type == ["Фамилия"]
    assert second.only_evaluate and not first.only_evaluate
    assert prompts[first.prompt].system_prompt == "Отвечай кратко."
    assert second.prompt == "plain"


def test_user_config_errors_name_the_row_and_column(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    path = tmp_path / "user_config.csv"
    path.write_text(USER_CONFIG.replace("['CER'];False", "['CER', 'XYZ'];False"), encoding="utf-8")
    with pytest.raises(
        UserConfigError, match=r"user_config.csv:2: metrics: no metrics entry named 'XYZ'"
    ):
        experiment_from_user_config(path, registry)
    path.write_text(USER_CONFIG.replace("['by_id', 'general']", "['by_week']"), encoding="utf-8")
    with pytest.raises(UserConfigError, match=r"user_config.csv:2: metrics_aggregators"):
        experiment_from_user_config(path, registry)
