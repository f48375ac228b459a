"""VLMHyperBench API wrapper: one backend behind an OpenAI-compatible, authenticated server."""

from vlmhb_api_wrapper.app import LATENCY_HEADER, create_app
from vlmhb_api_wrapper.backend import (
    BACKENDS_ENTRY_POINT_GROUP,
    Backend,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    ImagePart,
    TextPart,
)
from vlmhb_api_wrapper.cli import main, read_model_config
from vlmhb_api_wrapper.errors import ApiError
from vlmhb_api_wrapper.masking import (
    SecretMasker,
    SecretMaskingFilter,
    install_secret_masking,
    mask_mapping,
    scrubbed_env,
    secrets_from_env,
)
from vlmhb_api_wrapper.registry import (
    BackendNotFound,
    available_backends,
    find_backend,
    register_backend,
)
from vlmhb_api_wrapper.settings import (
    DEFAULT_GPU_MEMORY_LIMIT_FRACTION,
    DEFAULT_MAX_IMAGE_PIXELS,
    ServerSettings,
)
from vlmhb_api_wrapper.testing import ServerThread
from vlmhb_api_wrapper.watchdog import ParentWatch

__all__ = [
    "BACKENDS_ENTRY_POINT_GROUP",
    "DEFAULT_GPU_MEMORY_LIMIT_FRACTION",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "LATENCY_HEADER",
    "ApiError",
    "Backend",
    "BackendNotFound",
    "ChatMessage",
    "GenerationRequest",
    "GenerationResult",
    "ImagePart",
    "ParentWatch",
    "SecretMasker",
    "SecretMaskingFilter",
    "ServerSettings",
    "ServerThread",
    "TextPart",
    "available_backends",
    "create_app",
    "find_backend",
    "install_secret_masking",
    "main",
    "mask_mapping",
    "read_model_config",
    "register_backend",
    "scrubbed_env",
    "secrets_from_env",
]
