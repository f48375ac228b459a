"""The peers' own scoring functions, imported from their PyPI packages without their stacks.

lmms-eval and VLMEvalKit are installed with ``--no-deps`` (``peers.txt``): their package
``__init__`` files and task registries import torch, transformers and GPU libraries, but the
scorers themselves need only the standard library, numpy and a few light modules
(``peer-deps.txt``). So the parent packages are registered as bare namespace modules (their
``__init__`` is not run) and the scoring modules are imported from the installed files as
they are. One module is replaced, and only for lmms-eval: ``lmms_eval.api.registry`` (the
metric registry, which imports ``lmms_eval.api.model`` and so torch) by a test double whose
decorators return the function unchanged; it holds no scoring code.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any


def _bare_package(name: str) -> None:
    """Make ``name`` importable as a package without running its ``__init__``."""
    if name in sys.modules:
        return
    parent, _, leaf = name.rpartition(".")
    if parent:
        _bare_package(parent)
        location = [str(Path(p) / leaf) for p in sys.modules[parent].__path__]
    else:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"{name} is not installed; run the parity-peers nox session")
        location = list(spec.submodule_search_locations)
    module = types.ModuleType(name)
    module.__path__ = location
    sys.modules[name] = module


class _RegistryDouble(types.ModuleType):
    """Test double for ``lmms_eval.api.registry`` (imports torch): registers nothing."""

    def __init__(self) -> None:
        super().__init__("lmms_eval.api.registry")

    @staticmethod
    def register_metric(**_: Any) -> Any:
        return lambda fn: fn

    @staticmethod
    def register_aggregation(_: str) -> Any:
        return lambda fn: fn


def lmms_eval() -> types.SimpleNamespace:
    """lmms-eval's scorers: ``anls`` (docvqa_val, infovqa_val), the TextVQA, OCRBench and
    ChartQA tasks' ``process_results`` / ``relaxed_correctness``, and its task folder."""
    for name in ("lmms_eval.api", "lmms_eval.tasks", "lmms_eval.tasks._task_utils"):
        _bare_package(name)
    sys.modules.setdefault("lmms_eval.api.registry", _RegistryDouble())
    tasks = Path(sys.modules["lmms_eval.tasks"].__path__[0])
    return types.SimpleNamespace(
        anls=importlib.import_module("lmms_eval.api.metrics").anls,
        textvqa=importlib.import_module("lmms_eval.tasks.textvqa.utils"),
        ocrbench=importlib.import_module("lmms_eval.tasks.ocrbench.utils"),
        chartqa=importlib.import_module("lmms_eval.tasks.chartqa.utils"),
        tasks=tasks,
    )


def vlmevalkit() -> types.ModuleType:
    """VLMEvalKit's ``vlmeval/dataset/utils/vqa_eval.py`` (``process_line``,
    ``hit_calculate``: the DocVQA, InfoVQA, ChartQA and TextVQA scores)."""
    for name in ("vlmeval", "vlmeval.dataset", "vlmeval.dataset.utils"):
        _bare_package(name)
    return importlib.import_module("vlmeval.dataset.utils.vqa_eval")
