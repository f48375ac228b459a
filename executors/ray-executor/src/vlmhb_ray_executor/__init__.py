"""vlmhb-ray-executor: VLMHyperBench stages as Ray tasks, model servers as Ray actors.

Registered as the ``ray`` executor (entry-point group ``vlmhyperbench.executors``), so
``vlmhb run EXP --executor ray [--ray-address HOST:PORT]`` spreads an experiment over a Ray
cluster; without an address (and no ``RAY_ADDRESS``) it starts a local Ray instance.
"""

from __future__ import annotations

from .executor import RayExecutor, RayService, create, remote_error, service_spec_json
from .remote import PROBE_FILE, SharedFilesystemError
from .resources import (
    RESOURCES_ENV,
    RESOURCES_LABEL,
    ResourceError,
    custom_resources,
    service_options,
    stage_options,
)

__all__ = [
    "PROBE_FILE",
    "RESOURCES_ENV",
    "RESOURCES_LABEL",
    "RayExecutor",
    "RayService",
    "ResourceError",
    "SharedFilesystemError",
    "create",
    "custom_resources",
    "remote_error",
    "service_options",
    "service_spec_json",
    "stage_options",
]
