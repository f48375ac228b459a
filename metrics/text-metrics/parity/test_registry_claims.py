"""The registries' claims about lmms-eval, checked against the installed lmms-eval's task files.

The public dataset entries record which lmms-eval task reads them and from which Hub path;
the ``public-docs`` experiment claims lmms-eval's prompts. Both are read here from lmms-eval's
own task YAMLs and ``doc_to_text`` functions (``peers.py``), so a new lmms-eval release that
moves a dataset or changes a prompt fails this test instead of silently breaking the claim.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import peers
import pytest
import yaml

REGISTRIES = Path(__file__).resolve().parents[3] / "registries"
LMMS = peers.lmms_eval()
QUESTIONS = [
    "what is the date?",
    "  Which YEAR had the highest value? ",
    "what's written on the STOP sign\n",
    "Кто подписал документ?",
    "iPhone model?",
]


class _TaskLoader(yaml.SafeLoader):
    """lmms-eval's task YAMLs tag functions ``!function utils.name``; kept as the string."""


_TaskLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def _read(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskLoader) or {}


def _task(name: str) -> tuple[dict[str, Any], Path]:
    """The task's YAML with its ``include`` merged in (the including file wins)."""
    for path in sorted(LMMS.tasks.rglob("*.yaml")):
        data = _read(path)
        if data.get("task") == name:
            if "include" in data:
                data = {**_read(path.parent / data["include"]), **data}
            return data, path.parent
    raise AssertionError(f"lmms-eval has no task {name!r}")


def _public_datasets() -> dict[str, dict[str, Any]]:
    entries = {p.stem: _read(p) for p in sorted((REGISTRIES / "datasets").glob("*.yaml"))}
    return {n: e for n, e in entries.items() if (e.get("metadata") or {}).get("lmms_eval_task")}


PUBLIC = _public_datasets()


def test_every_public_dataset_is_checked():
    assert set(PUBLIC) == {
        "docvqa-val",
        "infovqa-val",
        "chartqa-test",
        "textvqa-val",
        "ocrbench",
    }


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_recorded_hub_path_and_config_are_lmms_evals(name):
    entry = PUBLIC[name]
    metadata = entry["metadata"]
    task, _ = _task(metadata["lmms_eval_task"])
    assert metadata["lmms_eval_dataset_path"] == task["dataset_path"], name
    if "dataset_name" in task:  # a Hub config, e.g. DocVQA / InfographicVQA
        assert entry["options"].get("config") == task["dataset_name"], name
    assert entry["options"]["split"] == task["test_split"], name
    assert "revision" not in (task.get("dataset_kwargs") or {})  # nothing published to pin


def _our_prompt(prompt: dict[str, Any], question: str) -> str:
    """What the core sends for this prompt entry (chat_request.build_prompt's rule)."""
    for method in (prompt.get("transforms") or {}).get("question", []):
        question = getattr(str, method)(question)
    return prompt["template"].format(question=question)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_docs_sends_lmms_evals_default_prompt_text(name):
    entry = PUBLIC[name]
    experiment = _read(REGISTRIES / "experiments" / "public-docs.yaml")
    (prompt_name,) = experiment["matrix"]["prompts"][name]
    prompt = _read(REGISTRIES / "prompts" / f"{prompt_name}.yaml")
    task, folder = _task(entry["metadata"]["lmms_eval_task"])
    module_name, _, function = task["doc_to_text"].partition(".")
    package = ".".join(folder.relative_to(LMMS.tasks.parents[1]).parts)
    doc_to_text = getattr(importlib.import_module(f"{package}.{module_name}"), function)
    kwargs = task["lmms_eval_specific_kwargs"]["default"]
    for question in QUESTIONS:
        theirs = doc_to_text({"question": question}, kwargs)
        assert _our_prompt(prompt, question) == theirs, (name, prompt_name, question)
