"""The core's registry and vlmhb-v01 each read prompt collection CSVs and place the user
overlay (the plugin never imports the core): the same files give the same result in both."""

from __future__ import annotations

from pathlib import Path

import pytest
import vlmhb_v01
from vlmhyperbench import registry as core_registry

COLLECTIONS = {
    "bom-and-cer": "\ufeffprompt;doc_class_question_type;cer\nФамилия?;passport Фамилия;0.1\n",
    "padded": " prompt ; doc_class_question_type \n Имя? ; passport Имя \n\n",
    "missing-column": "text;key\nx;y\n",
    "empty-key": "prompt;doc_class_question_type\nx;\n",
    "duplicate": "prompt;doc_class_question_type\na;k\nb;k\n",
    "header-only": "prompt;doc_class_question_type\n",
}


def _outcome(read, error: type[Exception], path: Path) -> object:
    try:
        return read(path)
    except error as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_prompt_collection_readers_agree(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(COLLECTIONS[name], encoding="utf-8")
    core = _outcome(core_registry.read_prompt_collection, core_registry.PromptCollectionError, path)
    v01 = _outcome(vlmhb_v01.read_prompt_collection, vlmhb_v01.PromptCollectionError, path)
    assert core == v01


def test_prompt_collection_readers_agree_on_a_missing_or_binary_file(tmp_path: Path) -> None:
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00")
    for path in (tmp_path / "absent.csv", binary):
        core = _outcome(
            core_registry.read_prompt_collection, core_registry.PromptCollectionError, path
        )
        v01 = _outcome(vlmhb_v01.read_prompt_collection, vlmhb_v01.PromptCollectionError, path)
        assert core == v01 and core[0] == "error"


@pytest.mark.parametrize(
    "env",
    [
        {"VLMHB_USER_OVERLAY": "{tmp}/mine"},
        {"VLMHB_USER_OVERLAY": None, "XDG_CONFIG_HOME": "{tmp}/xdg"},
        {"VLMHB_USER_OVERLAY": None, "XDG_CONFIG_HOME": None, "HOME": "{tmp}/home"},
    ],
)
def test_importers_write_where_the_registry_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]
) -> None:
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value.format(tmp=tmp_path))
    assert vlmhb_v01.user_overlay_dir() == core_registry.user_overlay_dir()
