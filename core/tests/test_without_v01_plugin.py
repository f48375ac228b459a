"""The core without vlmhb-v01: ``--user-config`` reaches its reader through an entry point
(the core names the package to install when none is, and turns the reader's problems into its
own ``UserConfigError``), and a report entry of a plugin's kind matters only where it is used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from registry_factory import VALID, write_registry
from vlmhyperbench import UserConfigError, experiment_from_user_config
from vlmhyperbench.execution import user_config
from vlmhyperbench.registry import RegistryError, RegistryLoader


class _EntryPoint:
    def __init__(self, name: str, target: Any) -> None:
        self.name = name
        self.target = target

    def load(self) -> Any:
        return self.target


def _with_readers(monkeypatch: pytest.MonkeyPatch, readers: list[_EntryPoint]) -> None:
    def entry_points(group: str) -> list[_EntryPoint]:
        return readers if group == user_config.GROUP else []

    monkeypatch.setattr(user_config, "entry_points", entry_points)


def test_without_a_reader_the_error_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_readers(monkeypatch, [])
    registry = RegistryLoader(write_registry(tmp_path), mode="prod").load()
    with pytest.raises(UserConfigError, match="pip install vlmhb-v01"):
        experiment_from_user_config(tmp_path / "user_config.csv", registry)


def test_the_readers_problems_become_a_user_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Problems(ValueError):
        def __init__(self, problems: list[str]) -> None:
            super().__init__("\n".join(problems))
            self.problems = problems

    def reader(path: Path, view: Any) -> Any:
        assert view.names("models") == ["tesseract"]
        raise Problems([f"{path.name}:2: metrics: no metrics entry named 'XYZ'", "1 problem(s)"])

    _with_readers(monkeypatch, [_EntryPoint("v01", reader)])
    registry = RegistryLoader(write_registry(tmp_path), mode="prod").load()
    with pytest.raises(UserConfigError, match=r"user_config\.csv:2: metrics") as caught:
        experiment_from_user_config(tmp_path / "user_config.csv", registry)
    assert caught.value.problems[-1] == "1 problem(s)"


def test_the_readers_plain_data_is_validated_into_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reader(path: Path, view: Any) -> Any:
        run = {"name": "row1", "task": "vqa", "model": "tesseract", "dataset": "docs-vqa"}
        prompt = {"name": "user-x", "template": "{question}", "system_prompt": "Кратко."}
        return {"name": "cfg", "runs": [{**run, "prompt": "user-x"}]}, {"user-x": prompt}

    _with_readers(monkeypatch, [_EntryPoint("v01", reader)])
    registry = RegistryLoader(write_registry(tmp_path), mode="prod").load()
    experiment, prompts = experiment_from_user_config(tmp_path / "user_config.csv", registry)
    assert experiment.runs[0].prompt == "user-x"
    assert prompts["user-x"].system_prompt == "Кратко."


def _with_report(kind: str, listed: bool) -> dict:
    entries = {kind_: dict(items) for kind_, items in VALID.items()}
    entries["reports"] = {**entries["reports"], "plugin": {"kind": kind}}
    if listed:
        default = dict(entries["experiments"]["default"])
        default["reports"] = [*default["reports"], "plugin"]
        entries["experiments"] = {**entries["experiments"], "default": default}
    return entries


def test_an_unlisted_report_of_an_uninstalled_kind_is_no_problem(tmp_path: Path) -> None:
    registry = RegistryLoader(
        write_registry(tmp_path, _with_report("v0x", False)), mode="prod"
    ).load()
    assert registry.get("reports", "plugin").kind == "v0x"


def test_a_listed_report_of_an_uninstalled_kind_names_the_installed_ones(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as caught:
        RegistryLoader(write_registry(tmp_path, _with_report("v0x", True)), mode="prod").load()
    [problem] = caught.value.problems
    assert str(problem.file).endswith("reports/plugin.yaml") and problem.field == "kind"
    assert "no installed report kind 'v0x' (installed: html, leaderboard" in problem.message
