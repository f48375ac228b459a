"""`vlmhb import vlm-base|prompts`: what v0.1 users have (vlm_base.csv, prompt collection
CSVs) imported into registry entries of the user overlay."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from registry_factory import write_registry
from typer.testing import CliRunner
from vlmhyperbench.cli import app
from vlmhyperbench.registry import RegistryManager

runner = CliRunner()

VLM_BASE = (
    "\ufeffframework;model_family;model_name;docker_image;git_python_package;python_package;module;class_name\n"
    "Hugging Face;Qwen2-VL;Qwen2-VL-2B;ghcr.io/x/qwen2:latest;"
    "git+https://example.org/org/model_qwen2_vl.git@v0.1.3;model_qwen2_vl;model_qwen2_vl.models;Qwen2VLModel\n"
    "Hugging Face;Qwen2-VL;Qwen2-VL-7B;;"
    "git+https://example.org/org/model_qwen2_vl.git@v0.1.3;model_qwen2_vl;model_qwen2_vl.models;Qwen2VLModel\n"
)


def _load(registries: Path, overlay: Path):
    return RegistryManager(registries, mode="prod", overlay_dirs=[overlay]).load()


def test_vlm_base_import_writes_runnable_model_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registries = write_registry(tmp_path)
    for name in ("hugging-face", "vllm"):
        (registries / "frameworks" / f"{name}.yaml").write_text(
            "adapter: vlmhb-ocr-adapter\nbackend: transformers\n", encoding="utf-8"
        )
    weights = tmp_path / "models" / "Qwen2-VL-7B"
    weights.mkdir(parents=True)
    monkeypatch.setenv("VLMHB_MODELS_DIR", str(tmp_path / "models"))
    csv = tmp_path / "vlm_base.csv"
    csv.write_text(VLM_BASE, encoding="utf-8")
    overlay = tmp_path / "overlay"
    result = runner.invoke(app, ["import", "vlm-base", str(csv), "--overlay", str(overlay)])
    assert result.exit_code == 0, result.output
    model = yaml.safe_load((overlay / "models" / "Qwen2-VL-7B.yaml").read_text())
    assert model["framework"] == "hugging-face"
    assert model["model"] == {"model": str(weights), "engine": "transformers"}  # local weights
    assert model["resources"] == {"gpus": 1}
    assert model["metadata"]["v01_class"] == "model_qwen2_vl.models:Qwen2VLModel"
    assert model["metadata"]["v01_git_package"].endswith("model_qwen2_vl.git@v0.1.3")
    assert not (overlay / "packages").exists()  # v0.1 model packages are not installed
    registry = _load(registries, overlay)
    assert registry.get("models", "Qwen2-VL-2B").docker_image == "ghcr.io/x/qwen2:latest"
    assert registry.get("models", "Qwen2-VL-2B").load_config["model"] == "Qwen2-VL-2B"  # Hub id

    again = runner.invoke(app, ["import", "vlm-base", str(csv), "--overlay", str(overlay)])
    assert again.exit_code == 0 and "kept" in again.output and "wrote" not in again.output


def test_vlm_base_with_an_unknown_framework_names_the_row(tmp_path: Path) -> None:
    csv = tmp_path / "vlm_base.csv"
    csv.write_text(VLM_BASE.replace("Hugging Face;Qwen2-VL;Qwen2-VL-7B", "Torch;Q;Q7"), "utf-8")
    overlay = tmp_path / "overlay"
    result = runner.invoke(app, ["import", "vlm-base", str(csv), "--overlay", str(overlay)])
    assert result.exit_code == 2
    assert "vlm_base.csv:3: framework: expected one of Hugging Face" in result.output
    assert not overlay.exists()


def test_vlm_base_missing_columns(tmp_path: Path) -> None:
    csv = tmp_path / "vlm_base.csv"
    csv.write_text("framework;model_name\nHugging Face;x\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "vlm-base", str(csv), "--overlay", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "vlm_base.csv:1: missing columns model_family" in result.output


def test_prompt_collection_import(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    csv = tmp_path / "prompts.csv"
    csv.write_text(
        "\ufeffprompt;doc_class_question_type;cer\n"
        "Какая фамилия указана в паспорте? Ответь одним словом.;passport Фамилия;0.12\n"
        "Напиши дату рождения в формате ДД.ММ.ГГГГ.;passport Дата рождения;0.05\n",
        encoding="utf-8",
    )
    overlay = tmp_path / "overlay"
    args = ["import", "prompts", str(csv), "qwen-tuned", "--overlay", str(overlay)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    prompt = _load(registries, overlay).get("prompts", "qwen-tuned")
    assert prompt.collection["passport Дата рождения"].startswith("Напиши дату")
    assert prompt.template == "{question}"
    csv.write_text("prompt;doc_class_question_type\nДругое;passport Фамилия\n", encoding="utf-8")
    kept = runner.invoke(app, args)  # the same overwrite rule as every importer
    assert "kept" in kept.output
    assert _load(registries, overlay).get("prompts", "qwen-tuned").collection != {
        "passport Фамилия": "Другое"
    }
    replaced = runner.invoke(app, [*args, "--overwrite"])
    assert "wrote" in replaced.output
    assert _load(registries, overlay).get("prompts", "qwen-tuned").collection == {
        "passport Фамилия": "Другое"
    }


def test_prompt_collection_file_reference(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    (registries / "prompts" / "tuned.csv").write_text(
        "prompt;doc_class_question_type\nФамилия?;passport Фамилия\n", encoding="utf-8"
    )
    (registries / "prompts" / "tuned.yaml").write_text(
        "template: '{question}'\ncollection_file: tuned.csv\n", encoding="utf-8"
    )
    registry = RegistryManager(registries, mode="prod").load()
    assert registry.prompt_collection(registry.get("prompts", "tuned")) == {
        "passport Фамилия": "Фамилия?"
    }
    (registries / "prompts" / "tuned.csv").write_text("text;key\nx;y\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", "--registries", str(registries)])
    assert result.exit_code == 2
    assert "tuned.csv:1: expected columns prompt;doc_class_question_type" in result.output
