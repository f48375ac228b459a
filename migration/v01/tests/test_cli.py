"""`vlmhb import ...` as the core's CLI runs it: the typer app of the entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import yaml
from typer.testing import CliRunner
from vlmhb_v01.cli import EXIT_BAD_INPUT, import_app

TREE = Path(__file__).parent / "fixtures" / "v01" / "vlmhyperbench"
COLLECTIONS = TREE / "data_dirs" / "PromptCollections" / "VQA"


def test_the_import_group_is_an_installed_command() -> None:
    [plugin] = [e for e in entry_points(group="vlmhyperbench.commands") if e.name == "import"]
    assert plugin.load() is import_app


def test_a_prompt_collection_is_written_into_the_overlay(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    csv = COLLECTIONS / "demo_mini" / "tuned" / "surname.csv"
    args = ["prompts", str(csv), "surname", "--overlay", str(overlay)]
    result = CliRunner().invoke(import_app, args)
    assert result.exit_code == 0, result.output
    target = overlay / "prompts" / "surname.yaml"
    assert f"wrote {target}" in result.output
    entry = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert entry["template"] == "{question}" and entry["collection"]
    assert entry["metadata"] == {"source": str(csv)}
    again = CliRunner().invoke(import_app, args)
    assert again.exit_code == 0 and f"kept  {target} (exists" in again.output


def test_a_whole_v01_tree_is_imported(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    result = CliRunner().invoke(import_app, ["v01", str(TREE), "--overlay", str(overlay)])
    assert result.exit_code == 0, result.output
    assert (overlay / "datasets").is_dir() and (overlay / "models").is_dir()
    assert f"use them with: vlmhb run ... --overlay {overlay}" in result.output


def test_a_bad_collection_exits_2_naming_the_file(tmp_path: Path) -> None:
    broken = COLLECTIONS / "broken.csv"
    args = ["prompts", str(broken), "broken", "--overlay", str(tmp_path)]
    result = CliRunner().invoke(import_app, args)
    assert result.exit_code == EXIT_BAD_INPUT == 2
    assert f"{broken}:1: expected columns prompt;doc_class_question_type" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "prompts").exists()


def test_a_bad_vlm_base_cell_exits_2_naming_the_row(tmp_path: Path) -> None:
    vlm_base = tmp_path / "vlm_base.csv"
    vlm_base.write_text(
        "framework;model_family;model_name;docker_image;git_python_package;python_package;"
        "module;class_name\nOCR;Tesseract;;;;vlmhb_ocr;vlmhb_ocr.models;Tesseract\n",
        encoding="utf-8",
    )
    args = ["vlm-base", str(vlm_base), "--overlay", str(tmp_path / "overlay")]
    result = CliRunner().invoke(import_app, args)
    assert result.exit_code == 2, result.output
    assert f"{vlm_base}:2: column 'model_name' is empty" in result.output
