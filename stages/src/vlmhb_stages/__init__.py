"""vlmhb-stages: the scripts of the stages that run in their own environment (sync, eval,
parity, upload) and the Pydantic configs the core hands them.

Each script runs as ``python -m vlmhb_stages.<name> CONFIG.json`` in an environment holding
this package, pydantic and the stage's packages (the dataset iterator, the metrics, the data
layer) but never the core: the core and the script read the same config model from the same
release of this package, and talk through files and JSON-line events on stdout (``emit``).
"""

from pathlib import Path

from .configs import (
    EVENT_PREFIX,
    EvalConfig,
    GeneratorSpec,
    MetricSpec,
    ParityConfig,
    ParityRun,
    SyncConfig,
    UploadConfig,
    emit,
)

SCRIPTS = ("prepare_dataset", "evaluate", "parity", "upload_bundle")


def script_path(name: str) -> Path:
    """The module file of a stage script (its content is part of the stage ids)."""
    if name not in SCRIPTS and name != "configs":
        raise ValueError(f"no stage script {name!r} (expected one of {', '.join(SCRIPTS)})")
    return Path(__file__).parent / f"{name}.py"


__all__ = [
    "EVENT_PREFIX",
    "SCRIPTS",
    "EvalConfig",
    "GeneratorSpec",
    "MetricSpec",
    "ParityConfig",
    "ParityRun",
    "SyncConfig",
    "UploadConfig",
    "emit",
    "script_path",
]
