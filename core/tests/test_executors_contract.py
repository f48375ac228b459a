"""The core's executor names are the contract package's, and optional capabilities are asked
for by protocol (``StopsRecorded``), not by attribute lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import vlmhb_executor_api
import vlmhyperbench.executors as core_executors
from vlmhyperbench.execution.serve import stop_orphans
from vlmhyperbench.workdir import Workdir, write_json


def test_the_core_re_exports_the_contract_objects_themselves():
    shared = set(core_executors.__all__) - {"available_executors", "create_executor"}
    assert shared <= set(vlmhb_executor_api.__all__)
    for name in shared:
        assert getattr(core_executors, name) is getattr(vlmhb_executor_api, name), name


class _Plain:
    kind = "plain"

    def run(self, spec: Any, on_output: Any = None) -> Any: ...

    def start_service(self, spec: Any) -> Any: ...

    def close(self) -> None: ...


class _Stopper(_Plain):
    kind = "stopper"

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def stop_recorded(self, record: dict[str, Any]) -> bool:
        self.asked.append(record)
        return True


def _leave_container_record(workdir: Workdir) -> Path:
    path = workdir.server_dir("toy") / "server.json"
    write_json(path, {"kind": "container", "container": "abc", "model": "toy", "port": 1})
    return path


def test_an_executor_that_stops_recorded_servers_is_asked_to(tmp_path: Path):
    workdir = Workdir(tmp_path)
    record = _leave_container_record(workdir)
    executor = _Stopper()
    assert stop_orphans(workdir, executor, say=lambda line: None) == ["toy"]
    assert executor.asked and executor.asked[0]["container"] == "abc"
    assert not record.exists()


def test_an_executor_without_the_capability_is_not_asked(tmp_path: Path):
    workdir = Workdir(tmp_path)
    record = _leave_container_record(workdir)
    assert stop_orphans(workdir, _Plain(), say=lambda line: None) == []
    assert not record.exists()  # the record of a dead run goes either way
