"""The package's public API is what ``vlmhb_api_wrapper.__all__`` lists: pinned here.

Backends, the runner and the adapters' tests import these names; a name added or removed is a
change of the contract and has to show up in this test (and the README).
"""

from __future__ import annotations

import vlmhb_api_wrapper

EXPORTED = {
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
}


def test_all_lists_the_public_names_once() -> None:
    assert len(vlmhb_api_wrapper.__all__) == len(set(vlmhb_api_wrapper.__all__))
    assert set(vlmhb_api_wrapper.__all__) == EXPORTED


def test_every_exported_name_resolves() -> None:
    missing = [name for name in vlmhb_api_wrapper.__all__ if not hasattr(vlmhb_api_wrapper, name)]
    assert missing == []


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from vlmhb_api_wrapper import *", namespace)
    assert set(namespace) - {"__builtins__"} == EXPORTED


def test_the_http_header_and_entry_point_group_keep_their_values() -> None:
    # clients (the runner, the OCR CLI) and packaged backends depend on these strings
    assert vlmhb_api_wrapper.LATENCY_HEADER == "X-Latency-S"
    assert vlmhb_api_wrapper.BACKENDS_ENTRY_POINT_GROUP == "vlmhyperbench.backends"
