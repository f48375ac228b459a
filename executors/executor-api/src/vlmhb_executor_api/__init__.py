"""vlmhb-executor-api: the public contract between VLMHyperBench and its executors.

An executor plugin (``vlmhb-docker-executor``, ``vlmhb-ray-executor``) imports this package
alone, never the core: the specs it is given (``StageSpec``, ``ServiceSpec``), what it gives
back (``StageOutcome``, a ``ServiceHandle``), the ``Executor`` protocol and the optional
capabilities (``StopsRecorded``), and the helpers it may use where the work lands (the local
executor and local services, secret files). The core re-exports these names from
``vlmhyperbench.executors``, so code written against the core keeps working.

Modules: ``specs`` (the data), ``contract`` (protocols, errors, the entry-point group),
``services`` (local model servers, secret files, process helpers), ``local`` (the local
executor).
"""

from __future__ import annotations

from .contract import (
    GROUP,
    Executor,
    ExecutorError,
    OutputCallback,
    ServiceHandle,
    StopsRecorded,
)
from .local import LOCK_FILENAME, NOT_FOUND_EXIT_CODE, TIMEOUT_EXIT_CODE, LocalExecutor
from .services import LocalService, with_secret_files, write_secrets
from .specs import ExecutorContext, ServiceSpec, Source, StageOutcome, StageSpec

__version__ = "0.1.0"

__all__ = [
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
]
