"""The protocols: what every executor is, and optional capabilities checked with isinstance."""

from __future__ import annotations

from typing import Any

from vlmhb_executor_api import (
    GROUP,
    Executor,
    LocalExecutor,
    ServiceHandle,
    ServiceSpec,
    StageOutcome,
    StageSpec,
    StopsRecorded,
)


class _Handle:
    base_url = "http://127.0.0.1:1"
    environment_lock = ""

    def alive(self) -> bool:
        return True

    def stop(self) -> None:
        pass

    def record(self) -> dict[str, Any]:
        return {"kind": "toy"}


class _Plain:
    kind = "plain"

    def run(self, spec: StageSpec, on_output: Any = None) -> StageOutcome:
        return StageOutcome(exit_code=0, environment_key="k", lock="")

    def start_service(self, spec: ServiceSpec) -> ServiceHandle:
        return _Handle()

    def close(self) -> None:
        pass


class _Stopper(_Plain):
    kind = "stopper"

    def stop_recorded(self, record: dict[str, Any]) -> bool:
        return record.get("kind") == "toy"


def test_an_executor_is_recognised_by_its_methods():
    assert isinstance(_Plain(), Executor)
    assert isinstance(_Handle(), ServiceHandle)
    assert not isinstance(object(), Executor)


def test_stopping_recorded_servers_is_a_capability_of_its_own():
    assert isinstance(_Stopper(), StopsRecorded)
    assert not isinstance(_Plain(), StopsRecorded)
    assert not isinstance(LocalExecutor(), StopsRecorded)  # local processes need no executor


def test_the_local_executor_follows_the_protocol():
    assert isinstance(LocalExecutor(), Executor)
    assert LocalExecutor.kind == "local"


def test_the_entry_point_group_is_the_cores():
    assert GROUP == "vlmhyperbench.executors"
