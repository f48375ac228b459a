"""transformers backend for the VLMHyperBench API wrapper (entry point ``transformers``)."""

from vlmhb_transformers_adapter.backend import DEFAULT_CONFIG, TransformersBackend
from vlmhb_transformers_adapter.config import (
    ConfigError,
    TransformersModelConfig,
    machine_threads,
    parse_config,
)
from vlmhb_transformers_adapter.decoding import (
    GrammarFactory,
    JsonCursor,
    RowController,
    RowPlan,
    StrictJsonMatcher,
)
from vlmhb_transformers_adapter.engine import (
    LoadedModel,
    LoadError,
    generate_batch,
    load_model,
    load_processor,
    prepare,
    run_requests,
)
from vlmhb_transformers_adapter.mapping import (
    RequestError,
    Sampling,
    StructuredOutput,
    decode_images,
    structured_output,
    to_chat_messages,
)

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "GrammarFactory",
    "JsonCursor",
    "LoadError",
    "LoadedModel",
    "RequestError",
    "RowController",
    "RowPlan",
    "Sampling",
    "StrictJsonMatcher",
    "StructuredOutput",
    "TransformersBackend",
    "TransformersModelConfig",
    "decode_images",
    "generate_batch",
    "load_model",
    "load_processor",
    "machine_threads",
    "parse_config",
    "prepare",
    "run_requests",
    "structured_output",
    "to_chat_messages",
]
