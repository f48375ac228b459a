"""Core tests never read or write the user's own overlay of imported entries."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_user_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMHB_USER_OVERLAY", str(tmp_path / "user-overlay"))
