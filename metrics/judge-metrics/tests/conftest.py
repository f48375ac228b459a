"""Fixtures: the judge test double (``judge_double.RuleJudgeServer``) and a private cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from judge_double import KEY, RuleJudgeServer


@pytest.fixture
def judge_server() -> Iterator[RuleJudgeServer]:
    with RuleJudgeServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMHB_JUDGE_CACHE", str(tmp_path / "judgments.sqlite"))
    monkeypatch.setenv("JUDGE_KEY", KEY)
