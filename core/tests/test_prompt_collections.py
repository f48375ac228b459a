"""The registry's prompt collections (a prompt entry's ``collection_file``) and the user
overlay: read and validated by the core alone, with no v0.1 package installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_factory import write_registry
from typer.testing import CliRunner
from vlmhyperbench.cli import app
from vlmhyperbench.registry import RegistryLoader, user_overlay_dir

runner = CliRunner()


def test_prompt_collection_file_reference(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    (registries / "prompts" / "tuned.csv").write_text(
        "prompt;doc_class_question_type\nФамилия?;passport Фамилия\n", encoding="utf-8"
    )
    (registries / "prompts" / "tuned.yaml").write_text(
        "template: '{question}'\ncollection_file: tuned.csv\n", encoding="utf-8"
    )
    registry = RegistryLoader(registries, mode="prod").load()
    assert registry.prompt_collection(registry.get("prompts", "tuned")) == {
        "passport Фамилия": "Фамилия?"
    }
    (registries / "prompts" / "tuned.csv").write_text("text;key\nx;y\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", "--registries", str(registries)])
    assert result.exit_code == 2
    assert "tuned.csv:1: expected columns prompt;doc_class_question_type" in result.output


def test_user_overlay_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLMHB_USER_OVERLAY", str(tmp_path / "mine"))
    assert user_overlay_dir() == tmp_path / "mine"
    monkeypatch.delenv("VLMHB_USER_OVERLAY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_overlay_dir() == tmp_path / "xdg" / "vlmhb" / "registries"


def test_user_overlay_entries_are_read_after_the_shipped_registries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vlmhyperbench import open_registry

    registries = write_registry(tmp_path)
    overlay = tmp_path / "user-overlay"
    monkeypatch.setenv("VLMHB_USER_OVERLAY", str(overlay))
    (overlay / "prompts").mkdir(parents=True)
    (overlay / "prompts" / "mine.yaml").write_text("template: '{question}'\n", encoding="utf-8")
    assert "mine" in open_registry(registries, mode="prod").names("prompts")
