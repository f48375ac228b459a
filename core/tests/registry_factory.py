"""Builds a small valid registry tree in a temporary folder, for tests to break on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

VALID: dict[str, dict[str, dict[str, Any]]] = {
    "packages": {
        "vlmhb-text-metrics": {"type": "pypi", "version": "==0.2.0"},
        "vlmhb-ocr-adapter": {
            "type": "git",
            "url": "https://example.org/vlmhb.git",
            "ref": "v0.2.0",
            "subdirectory": "adapters/ocr-adapter",
        },
        "vlmhb-dataset-factory": {"type": "local", "path": "pkgs/dataset-factory"},
    },
    "frameworks": {
        "ocr": {"adapter": "vlmhb-ocr-adapter", "backend": "ocr"},
    },
    "metrics": {
        "cer": {
            "package": "vlmhb-text-metrics",
            "entry_point": "cer",
            "version": "1",
            "applies_to": ["text"],
        },
        "accuracy": {
            "package": "vlmhb-text-metrics",
            "callable": "vlmhb_text_metrics:exact_match",
            "version": "1",
            "applies_to": ["label"],
        },
    },
    "tasks": {
        "vqa": {
            "input": {"images": 1, "prompt_variables": ["question"]},
            "output": {"kind": "text"},
            "default_metrics": ["cer"],
        },
        "extract": {
            "input": {"prompt_variables": []},
            "output": {
                "kind": "json",
                "json_schema": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
    },
    "models": {
        "tesseract": {
            "framework": "ocr",
            "model": {"engine": "tesseract"},
            "generation": {"max_tokens": 256, "temperature": 0},
        },
    },
    "datasets": {
        "docs-vqa": {
            "package": "vlmhb-dataset-factory",
            "iterator": "vqa-csv",
            "source": "data/docs",
            "task": "vqa",
        },
    },
    "prompts": {
        "plain": {"template": "{question}"},
        "json": {"template": "Extract the fields as JSON.", "response_format": "json_schema"},
    },
    "reports": {
        "leaderboard": {"kind": "leaderboard"},
        "html-report": {"kind": "html"},
    },
    "runs": {
        "tesseract-vqa": {
            "task": "vqa",
            "model": "tesseract",
            "dataset": "docs-vqa",
            "prompt": "plain",
            "metrics": ["cer"],
            "aggregators": ["general", "by_doc_type"],
        },
    },
    "experiments": {
        "default": {
            "runs": ["tesseract-vqa"],
            "matrix": {"models": ["tesseract"], "datasets": ["docs-vqa"], "prompts": ["plain"]},
            "reports": ["leaderboard"],
        },
    },
}


def write_registry(root: Path, entries: dict[str, dict[str, dict[str, Any]]] | None = None) -> Path:
    """Write ``entries`` (default: VALID) as registries/<kind>/<name>.yaml under ``root``."""
    entries = VALID if entries is None else entries
    registries = root / "registries"
    for kind, items in entries.items():
        (registries / kind).mkdir(parents=True, exist_ok=True)
        for name, data in items.items():
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
            (registries / kind / f"{name}.yaml").write_text(text, encoding="utf-8")
    package = root / "pkgs" / "dataset-factory"
    package.mkdir(parents=True, exist_ok=True)
    (package / "pyproject.toml").write_text('[project]\nname = "vlmhb-dataset-factory"\n')
    (root / "data" / "docs").mkdir(parents=True, exist_ok=True)
    return registries
