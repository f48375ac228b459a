"""The public API is what ``__init__`` exports, and each name is there."""

from __future__ import annotations

import vlmhb_workdir


def test_every_exported_name_exists() -> None:
    missing = [name for name in vlmhb_workdir.__all__ if not hasattr(vlmhb_workdir, name)]
    assert missing == []


def test_the_layout_and_the_reader_are_exported() -> None:
    assert {"Workdir", "load_experiment", "read_run", "RunResult", "WorkdirFileError"} <= set(
        vlmhb_workdir.__all__
    )
