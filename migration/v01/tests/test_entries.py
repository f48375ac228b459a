"""Writing imported entries: one overwrite rule and one default place for every importer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from vlmhb_v01 import PlannedEntry, user_overlay_dir, write_entries


def test_existing_entries_are_kept_unless_overwrite(tmp_path: Path) -> None:
    entry = PlannedEntry("prompts", "tuned", {"template": "{question}", "note": "Фамилия"})
    first = write_entries([entry], tmp_path)
    target = tmp_path / "prompts" / "tuned.yaml"
    assert first.written == [target] and not first.skipped
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["note"] == "Фамилия"
    changed = PlannedEntry("prompts", "tuned", {"template": "{question}!"})
    kept = write_entries([changed], tmp_path)
    assert kept.skipped == [target] and not kept.written
    assert "note" in yaml.safe_load(target.read_text(encoding="utf-8"))
    replaced = write_entries([changed], tmp_path, overwrite=True)
    assert replaced.written == [target]
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == {"template": "{question}!"}
    assert not list(tmp_path.rglob("*.tmp"))
    first.merge(kept)
    assert first.written == [target] and first.skipped == [target]


def test_the_user_overlay_is_the_default_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLMHB_USER_OVERLAY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert user_overlay_dir() == tmp_path / "config" / "vlmhb" / "registries"
    monkeypatch.setenv("VLMHB_USER_OVERLAY", str(tmp_path / "mine"))
    assert user_overlay_dir() == tmp_path / "mine"
    write_entries([PlannedEntry("models", "m", {"framework": "ocr"})])
    assert (tmp_path / "mine" / "models" / "m.yaml").is_file()
