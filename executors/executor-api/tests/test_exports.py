"""The public API is exactly what ``__init__`` exports, and each module says what it exports."""

from __future__ import annotations

import importlib

import vlmhb_executor_api

EXPECTED = {
    "GROUP",
    "LOCK_FILENAME",
    "NOT_FOUND_EXIT_CODE",
    "TIMEOUT_EXIT_CODE",
    "Executor",
    "ExecutorContext",
    "ExecutorError",
    "LocalExecutor",
    "LocalService",
    "OutputCallback",
    "ServiceHandle",
    "ServiceSpec",
    "Source",
    "StageOutcome",
    "StageSpec",
    "StopsRecorded",
    "with_secret_files",
    "write_secrets",
}


def test_the_exported_names_are_exactly_the_contract():
    assert set(vlmhb_executor_api.__all__) == EXPECTED
    assert len(vlmhb_executor_api.__all__) == len(EXPECTED)
    for name in EXPECTED:
        assert hasattr(vlmhb_executor_api, name), name


def test_every_module_lists_names_it_defines():
    for module_name in ("contract", "local", "services", "specs"):
        module = importlib.import_module(f"vlmhb_executor_api.{module_name}")
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.{name}"


def test_the_contract_does_not_import_the_core():
    import sys

    assert "vlmhyperbench" not in sys.modules
