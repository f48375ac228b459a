"""Overlays: name.dev.yaml in dev mode, extra overlay folders, and the documented merge rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from registry_factory import VALID, write_registry
from typer.testing import CliRunner
from vlmhyperbench.cli import app
from vlmhyperbench.registry import RegistryError, RegistryManager, merge, run_mode


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_merge_rules() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"type": "pypi", "version": "==1"}}
    overlay = {"a": {"y": [3]}, "b": None, "c": {"type": "local", "path": "p"}}
    assert merge(base, overlay) == {
        "a": {"x": 1, "y": [3]},  # mappings merge deeply, lists replace
        "b": None,  # null replaces
        "c": {"type": "local", "path": "p"},  # a different `type` replaces the whole mapping
    }


def test_dev_overlay_switches_a_package_to_a_local_path(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    _write(
        registries / "packages" / "vlmhb-text-metrics.dev.yaml",
        {"type": "local", "path": "pkgs/dataset-factory"},
    )
    prod = RegistryManager(registries, mode="prod").load()
    dev = RegistryManager(registries, mode="dev").load()
    assert prod.get("packages", "vlmhb-text-metrics").type == "pypi"
    local = dev.get("packages", "vlmhb-text-metrics")
    assert local.type == "local" and local.path == "pkgs/dataset-factory"


def test_run_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_MODE", "dev")
    assert run_mode() == "dev"
    assert run_mode("prod") == "prod"
    monkeypatch.setenv("RUN_MODE", "staging")
    with pytest.raises(ValueError, match="RUN_MODE: expected 'dev' or 'prod'"):
        run_mode()


def test_deep_merge_keeps_untouched_fields(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    _write(registries / "models" / "tesseract.dev.yaml", {"generation": {"temperature": 0.5}})
    model = RegistryManager(registries, mode="dev").load().get("models", "tesseract")
    assert model.generation.temperature == 0.5
    assert model.generation.max_tokens == 256
    assert model.load_config == {"engine": "tesseract"}


def test_extra_overlay_folder_overrides_and_adds(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    extra = tmp_path / "site"
    _write(extra / "models" / "tesseract.yaml", {"concurrency": 2})
    _write(
        extra / "models" / "rapidocr.yaml", {"framework": "ocr", "model": {"engine": "rapidocr"}}
    )
    registry = RegistryManager(registries, mode="prod", overlay_dirs=[extra]).load()
    assert registry.get("models", "tesseract").concurrency == 2
    assert registry.get("models", "rapidocr").load_config == {"engine": "rapidocr"}


def test_overlay_kind_the_shipped_registries_lack_is_read(tmp_path: Path) -> None:
    """The shipped registries have no runs/ folder; a run imported to the user overlay must
    still be known (it was silently ignored: 'known: none')."""
    entries = {k: v for k, v in VALID.items() if k != "runs"}
    entries["experiments"] = {"default": {**VALID["experiments"]["default"], "runs": []}}
    registries = write_registry(tmp_path, entries)
    assert not (registries / "runs").exists()
    user = tmp_path / "user"
    _write(user / "runs" / "tesseract-vqa.yaml", VALID["runs"]["tesseract-vqa"])
    registry = RegistryManager(registries, mode="prod", overlay_dirs=[user]).load()
    assert registry.names("runs") == ["tesseract-vqa"]
    assert registry.get("runs", "tesseract-vqa").model == "tesseract"


def test_problem_in_an_overlay_names_the_overlay_file_and_line(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    (registries / "models" / "tesseract.dev.yaml").write_text(
        "# a comment\nconcurrency: 2\ngeneration:\n  temperature: -3\n", encoding="utf-8"
    )
    with pytest.raises(RegistryError) as caught:
        RegistryManager(registries, mode="dev").load()
    rendered = str(caught.value)
    assert "tesseract.dev.yaml:4: generation.temperature" in rendered
    # prod mode ignores the dev overlay entirely
    RegistryManager(registries, mode="prod").load()


def test_schema_command_writes_one_schema_per_kind(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema", "--out", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert "models.schema.json" in files and "packages.schema.json" in files and len(files) == 10
    models = json.loads((tmp_path / "schemas" / "models.schema.json").read_text())
    assert "model" in models["properties"]  # the YAML key, not the Python attribute name
    packages = json.loads((tmp_path / "schemas" / "packages.schema.json").read_text())
    assert {"local", "git", "pypi"} <= set(packages["discriminator"]["mapping"])
