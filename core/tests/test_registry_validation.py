"""`vlmhb validate` on valid and deliberately broken registries.

Every malformed case must exit 2 and print a line naming the file, the field and what was
expected, with no traceback.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from registry_factory import VALID, write_registry
from typer.testing import CliRunner
from vlmhyperbench.cli import app
from vlmhyperbench.registry import RegistryError, RegistryManager

runner = CliRunner()


def validate(registries: Path, *extra: str):
    return runner.invoke(app, ["validate", "--registries", str(registries), *extra])


def test_valid_registry_summarises_each_kind(tmp_path: Path) -> None:
    result = validate(write_registry(tmp_path), "--mode", "prod")
    assert result.exit_code == 0, result.output
    assert re.search(r"packages\s+3 entries OK", result.output)
    assert re.search(r"experiments\s+1 entries OK", result.output)
    assert "valid in prod mode" in result.output


def test_loaded_entries_are_typed(tmp_path: Path) -> None:
    registry = RegistryManager(write_registry(tmp_path), mode="prod").load()
    model = registry.get("models", "tesseract")
    assert model.load_config == {"engine": "tesseract"}
    assert model.generation.max_tokens == 256
    assert registry.get("packages", "vlmhb-text-metrics").version == "==0.2.0"
    assert registry.get("metrics", "cer").key == "cer@1"


def _set(kind: str, name: str, data: Any) -> Callable[[Path], None]:
    def mutate(registries: Path) -> None:
        path = registries / kind / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
        path.write_text(text, encoding="utf-8")

    return mutate


def _patch(kind: str, entry: str, /, **changes: Any) -> Callable[[Path], None]:
    data = copy.deepcopy(VALID[kind][entry])
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return _set(kind, entry, data)


_DELETE = object()

# (case id, mutation, file expected in the message, text expected in the message)
MALFORMED: list[tuple[str, Callable[[Path], None], str, str]] = [
    (
        "yaml-syntax",
        _set("models", "tesseract", "framework: ocr\nmodel: [engine\n"),
        "models/tesseract.yaml:3",
        "YAML syntax error",
    ),
    (
        "yaml-duplicate-key",
        _set("models", "tesseract", "framework: ocr\nframework: vllm\n"),
        "models/tesseract.yaml:2",
        "duplicate key 'framework'",
    ),
    (
        "not-a-mapping",
        _set("models", "tesseract", "- a\n- b\n"),
        "models/tesseract.yaml:1",
        "expected a mapping of fields",
    ),
    ("empty-file", _set("models", "tesseract", ""), "models/tesseract.yaml:1", "file is empty"),
    (
        "unknown-field",
        _patch("models", "tesseract", gpu_count=1),
        "models/tesseract.yaml",
        "gpu_count: unknown field",
    ),
    (
        "missing-required",
        _patch("metrics", "cer", version=_DELETE),
        "metrics/cer.yaml",
        "version: required field is missing",
    ),
    (
        "package-type",
        _set("packages", "vlmhb-text-metrics", {"type": "svn", "url": "x"}),
        "packages/vlmhb-text-metrics.yaml",
        "type",
    ),
    (
        "pypi-version",
        _set("packages", "vlmhb-text-metrics", {"type": "pypi", "version": "latest!"}),
        "packages/vlmhb-text-metrics.yaml",
        "version: expected a version specifier",
    ),
    (
        "git-no-ref",
        _set("packages", "vlmhb-ocr-adapter", {"type": "git", "url": "https://x/y.git"}),
        "packages/vlmhb-ocr-adapter.yaml",
        "ref: required field is missing",
    ),
    (
        "local-missing-path",
        _set("packages", "vlmhb-dataset-factory", {"type": "local", "path": "nope"}),
        "packages/vlmhb-dataset-factory.yaml",
        "path: expected a package folder with pyproject.toml",
    ),
    (
        "name-mismatch",
        _patch("models", "tesseract", name="other"),
        "models/tesseract.yaml",
        "name: expected 'tesseract' (the file name)",
    ),
    (
        "output-kind",
        _patch("tasks", "vqa", output={"kind": "image"}),
        "tasks/vqa.yaml",
        "output.kind: expected 'text', 'label' or 'json'",
    ),
    (
        "json-without-schema",
        _patch("tasks", "extract", output={"kind": "json"}),
        "tasks/extract.yaml",
        "output kind 'json' needs json_schema",
    ),
    (
        "bad-json-schema",
        _patch("tasks", "extract", output={"kind": "json", "json_schema": {"type": 12}}),
        "tasks/extract.yaml",
        "not a valid JSON Schema",
    ),
    (
        "label-without-labels",
        _patch("tasks", "vqa", output={"kind": "label"}),
        "tasks/vqa.yaml",
        "needs a non-empty labels list",
    ),
    (
        "task-unknown-metric",
        _patch("tasks", "vqa", default_metrics=["bleurt"]),
        "tasks/vqa.yaml",
        "default_metrics[0]: expected the name of a metrics entry, got 'bleurt'",
    ),
    (
        "task-main-metric-not-listed",
        _patch("tasks", "vqa", main_metric="accuracy"),
        "tasks/vqa.yaml",
        "main_metric: expected one of default_metrics (cer), got 'accuracy'",
    ),
    (
        "metric-misfit",
        _patch("tasks", "vqa", default_metrics=["accuracy"]),
        "tasks/vqa.yaml",
        "metric 'accuracy' scores label outputs, but task 'vqa' outputs text",
    ),
    (
        "metric-two-targets",
        _patch("metrics", "cer", callable="m:f"),
        "metrics/cer.yaml",
        "exactly one of 'entry_point' and 'callable'",
    ),
    (
        "metric-bad-callable",
        _patch("metrics", "accuracy", callable="not a path"),
        "metrics/accuracy.yaml",
        "expected 'module.path:function'",
    ),
    (
        "metric-unknown-package",
        _patch("metrics", "cer", package="vlmhb-nope"),
        "metrics/cer.yaml",
        "package: expected the name of a packages entry, got 'vlmhb-nope'",
    ),
    (
        "model-unknown-framework",
        _patch("models", "tesseract", framework="tgi"),
        "models/tesseract.yaml",
        "framework: expected the name of a frameworks entry, got 'tgi'",
    ),
    (
        "model-no-server",
        _set("models", "tesseract", {"model": {"engine": "x"}}),
        "models/tesseract.yaml",
        "needs an adapter, a framework or a base_url",
    ),
    (
        "negative-temperature",
        _patch("models", "tesseract", generation={"temperature": -1}),
        "models/tesseract.yaml",
        "generation.temperature: Input should be greater than or equal to 0",
    ),
    (
        "zero-max-tokens",
        _patch("models", "tesseract", generation={"max_tokens": 0}),
        "models/tesseract.yaml",
        "generation.max_tokens: Input should be greater than 0",
    ),
    (
        "dataset-two-sources",
        _patch(
            "datasets",
            "docs-vqa",
            generator={"package": "vlmhb-dataset-factory", "callable": "m:f"},
        ),
        "datasets/docs-vqa.yaml",
        "exactly one of 'source' and 'generator'",
    ),
    (
        "dataset-http-source",
        _patch("datasets", "docs-vqa", source="http://example.org/x"),
        "datasets/docs-vqa.yaml",
        "expected a local path, file://, s3:// or hf:// URL",
    ),
    (
        "dataset-unknown-task",
        _patch("datasets", "docs-vqa", task="ocr"),
        "datasets/docs-vqa.yaml",
        "task: expected the name of a tasks entry, got 'ocr'",
    ),
    (
        "dataset-missing-path",
        _patch("datasets", "docs-vqa", source="data/missing"),
        "datasets/docs-vqa.yaml",
        "source: expected an existing path",
    ),
    (
        "dataset-bad-checksum",
        _patch("datasets", "docs-vqa", checksum="md5:abc"),
        "datasets/docs-vqa.yaml",
        "checksum: String should match pattern",
    ),
    (
        "prompt-empty",
        _set("prompts", "plain", {"system_prompt": "hi"}),
        "prompts/plain.yaml",
        "expected a template, a collection or a collection_file",
    ),
    (
        "prompt-bad-placeholder",
        _set("prompts", "plain", {"template": "Q: {0}"}),
        "prompts/plain.yaml",
        "expected {variable} placeholders",
    ),
    (
        "prompt-missing-csv",
        _set("prompts", "plain", {"template": "{question}", "collection_file": "p.csv"}),
        "prompts/plain.yaml",
        "collection_file: ",
    ),
    (
        "run-unknown-model",
        _patch("runs", "tesseract-vqa", model="gpt-9"),
        "runs/tesseract-vqa.yaml",
        "model: expected the name of a models entry, got 'gpt-9'",
    ),
    (
        "run-dataset-task",
        _patch("runs", "tesseract-vqa", task="extract", metrics=None, prompt="json"),
        "runs/tesseract-vqa.yaml",
        "dataset 'docs-vqa' is annotated for task 'vqa', not 'extract'",
    ),
    (
        "run-prompt-variable",
        _set("prompts", "plain", {"template": "{question} in {language}"}),
        "runs/tesseract-vqa.yaml",
        "uses {language} but task 'vqa' provides only ['question']",
    ),
    (
        "run-json-prompt-text-task",
        _patch("runs", "tesseract-vqa", prompt="json"),
        "runs/tesseract-vqa.yaml",
        "prompt 'json' asks for JSON but task 'vqa' outputs text",
    ),
    (
        "run-bad-aggregator",
        _patch("runs", "tesseract-vqa", aggregators=["by_month"]),
        "runs/tesseract-vqa.yaml",
        "aggregators[0]: expected 'general', 'by_doc_type'",
    ),
    (
        "run-zero-limit",
        _patch("runs", "tesseract-vqa", limit=0),
        "runs/tesseract-vqa.yaml",
        "limit: Input should be greater than 0",
    ),
    (
        "experiment-empty",
        _set("experiments", "default", {"executor": "local"}),
        "experiments/default.yaml",
        "expected 'runs' or 'matrix'",
    ),
    (
        "experiment-unknown-run",
        _patch("experiments", "default", runs=["nope"]),
        "experiments/default.yaml",
        "runs[0]: expected the name of a runs entry, got 'nope'",
    ),
    (
        "experiment-prompt-map",
        _patch("experiments", "default", matrix__prompts={"other": ["plain"]}),
        "experiments/default.yaml",
        "expected one of the matrix datasets",
    ),
    (
        "run-model-framework-not-for-task",
        _patch("tasks", "vqa", frameworks=["vllm"]),
        "runs/tesseract-vqa.yaml",
        "model: model 'tesseract' is served by framework 'ocr', but task 'vqa' runs on vllm",
    ),
    (
        "experiment-executor",
        _patch("experiments", "default", executor="k8s"),
        "experiments/default.yaml",
        "executor: expected an installed executor (local",
    ),
    (
        "experiment-storage",
        _patch("experiments", "default", storage={"uri": "ftp://host/x"}),
        "experiments/default.yaml",
        "storage.uri: String should match pattern",
    ),
    ("unknown-kind", _set("widgets", "a", {"x": 1}), "registries/widgets", "unknown registry kind"),
    (
        "overlay-without-base",
        _set("models", "ghost.dev", {"framework": "ocr"}),
        "models/ghost.dev.yaml",
        "overlay without a base",
    ),
    (
        "report-unknown-kind",
        _patch("reports", "leaderboard", kind="pie"),
        "reports/leaderboard.yaml",
        "kind: no installed report kind 'pie' (installed: html, leaderboard",
    ),
    (
        "not-utf8",
        lambda r: (r / "models" / "tesseract.yaml").write_bytes(b"name: \xff\xfe\n"),
        "models/tesseract.yaml",
        "expected UTF-8 text",
    ),
    (
        "framework-bad-regex",
        _patch(
            "frameworks",
            "ocr",
            specialised=[
                {"model_name_pattern": "([", "adapter": "vlmhb-ocr-adapter", "backend": "ocr"}
            ],
        ),
        "frameworks/ocr.yaml",
        "specialised[0].model_name_pattern: expected a regular expression",
    ),
]


def test_there_are_at_least_thirty_distinct_cases() -> None:
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED) >= 30


@pytest.mark.parametrize(
    ("mutate", "where", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_registry_is_reported_precisely(
    tmp_path: Path, mutate: Callable[[Path], None], where: str, expected: str
) -> None:
    registries = write_registry(tmp_path)
    mutate(registries)
    result = validate(registries, "--mode", "dev")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if where in line and expected in line]
    assert lines, f"no line with {where!r} and {expected!r} in:\n{result.output}"
    assert re.search(r"\d+ problem\(s\) found", result.output)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    _patch("runs", "tesseract-vqa", model="gpt-9")(registries)
    _patch("metrics", "cer", package="vlmhb-nope")(registries)
    with pytest.raises(RegistryError) as caught:
        RegistryManager(registries, mode="prod").load()
    fields = {p.field for p in caught.value.problems}
    assert {"model", "package"} <= fields


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    registries = write_registry(tmp_path)
    _patch("runs", "tesseract-vqa", model="gpt-9")(registries)
    proc = subprocess.run(
        [sys.executable, "-m", "vlmhyperbench", "validate", "--registries", str(registries)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "runs/tesseract-vqa.yaml" in proc.stderr and "gpt-9" in proc.stderr
