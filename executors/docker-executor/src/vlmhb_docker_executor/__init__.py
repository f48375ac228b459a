"""VLMHyperBench's docker executor: stages and model servers run in containers.

Installed, it registers as ``docker`` in the entry-point group ``vlmhyperbench.executors``, so
``vlmhb run --executor docker`` finds it. Usable directly too::

    from vlmhb_docker_executor import DockerExecutor
    from vlmhb_executor_api import StageSpec

    executor = DockerExecutor()  # DOCKER_HOST or the default socket; vlmhb-base:bookworm
    outcome = executor.run(StageSpec(name="hello", sources=[], command=["python", "-V"],
                                     output_dir="/tmp/hello"))
"""

from .containers import (
    MERGE_STREAMS,
    NOT_FOUND_EXIT_CODE,
    ROLE_LABEL,
    STAGE_LABEL,
    TIMEOUT_EXIT_CODE,
    DockerExecutorError,
    gpu_requests,
)
from .executor import DEFAULT_IMAGE, IMAGE_ENV, LOCK_FILENAME, DockerExecutor, create
from .service import SECRETS_IN_CONTAINER, DockerService

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_IMAGE",
    "IMAGE_ENV",
    "LOCK_FILENAME",
    "MERGE_STREAMS",
    "NOT_FOUND_EXIT_CODE",
    "ROLE_LABEL",
    "SECRETS_IN_CONTAINER",
    "STAGE_LABEL",
    "TIMEOUT_EXIT_CODE",
    "DockerExecutor",
    "DockerExecutorError",
    "DockerService",
    "create",
    "gpu_requests",
]
