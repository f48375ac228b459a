"""Starting vLLM's async engine, and the parts of vLLM's API that changed between releases.

vLLM is imported only here and only inside functions: the package installs and imports on a
machine without CUDA (where the wrapper, the tests and the registry tooling run), and the
engine extra is needed only to actually load a model.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from vlmhb_vllm_adapter.config import ConfigError, VllmModelConfig
from vlmhb_vllm_adapter.mapping import StructuredOutput

INSTALL_HINT = (
    "vLLM is not installed in this environment: install the engine extra on a machine with "
    "a CUDA GPU, e.g. `pip install 'vlmhb-vllm-adapter[engine]'`"
)


class EngineUnavailable(RuntimeError):
    """The engine cannot start here (no vLLM, no GPU): the message says what to install."""


class AsyncEngine(Protocol):
    """The part of ``vllm.AsyncLLMEngine`` the backend uses."""

    def generate(self, prompt: Any, sampling_params: Any, request_id: str) -> AsyncIterator[Any]:
        """Stream of RequestOutput snapshots for one request; the last one is final."""
        ...


@dataclass
class SamplingApi:
    """How to build ``SamplingParams`` with a JSON constraint in the installed vLLM.

    vLLM renamed its guided decoding: ``SamplingParams(guided_decoding=GuidedDecodingParams)``
    up to 0.10, ``SamplingParams(structured_outputs=StructuredOutputsParams)`` from 0.11 on.
    Which one exists is detected, not assumed from the version number.
    """

    sampling_params_cls: Callable[..., Any]
    constraint_cls: Callable[..., Any] | None
    constraint_kwarg: str | None

    def build(self, settings: dict[str, Any], structured: StructuredOutput | None) -> Any:
        kwargs = dict(settings)
        if structured is not None:
            if self.constraint_cls is None or self.constraint_kwarg is None:
                raise EngineUnavailable(
                    "this vLLM has no guided decoding (neither StructuredOutputsParams nor "
                    "GuidedDecodingParams): a json_schema response_format cannot be honoured"
                )
            if structured.kind == "json_schema":
                constraint = self.constraint_cls(json=structured.schema)
            else:
                constraint = self.constraint_cls(json_object=True)
            kwargs[self.constraint_kwarg] = constraint
        return self.sampling_params_cls(**kwargs)

    @property
    def flavour(self) -> str:
        return self.constraint_kwarg or "none"


def detect_sampling_api(sampling_module: ModuleType | Any) -> SamplingApi:
    """Pick the structured-output API that ``vllm.sampling_params`` offers."""
    params_cls = sampling_module.SamplingParams
    if hasattr(sampling_module, "StructuredOutputsParams"):
        return SamplingApi(
            params_cls, sampling_module.StructuredOutputsParams, "structured_outputs"
        )
    if hasattr(sampling_module, "GuidedDecodingParams"):
        return SamplingApi(params_cls, sampling_module.GuidedDecodingParams, "guided_decoding")
    return SamplingApi(params_cls, None, None)


#: How the backend has vLLM tokenize a rendered chat prompt. The chat template already writes
#: the BOS token; vLLM tokenizes text prompts (multimodal ones included) with special tokens
#: added, so a Llama-, Gemma- or SmolVLM-based prompt would start with two BOS tokens. vLLM's
#: own chat server tokenizes chat prompts the same way (``default_chat_tok_params``).
CHAT_PROMPT_TOKENIZATION: dict[str, Any] = {"add_special_tokens": False}


@dataclass
class LoadedEngine:
    """Everything the backend needs once a model is up.

    ``client_errors`` are the exception types the engine raises for a request it refuses as
    sent (more images than ``limit_mm_per_prompt``, a schema its grammar compiler rejects, a
    prompt over ``max_model_len``): vLLM's ``VLLMClientError`` where it has one, else
    ``ValueError`` (what older releases raised). The backend answers those 400, not 500.
    """

    engine: Any
    render_prompt: Callable[[list[dict[str, Any]]], str]
    sampling: SamplingApi
    versions: dict[str, str] = field(default_factory=dict)
    client_errors: tuple[type[BaseException], ...] = (ValueError,)

    def shutdown(self) -> None:
        stop = getattr(self.engine, "shutdown", None)
        if callable(stop):
            stop()


def _import_vllm() -> ModuleType:
    try:
        import vllm
    except ImportError as exc:
        raise EngineUnavailable(f"{INSTALL_HINT} ({exc})") from exc
    return vllm


def load_vllm_engine(config: VllmModelConfig) -> LoadedEngine:
    """Start the engine for ``config`` and the chat template renderer of its processor."""
    vllm = _import_vllm()
    import vllm.sampling_params as sampling_module

    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - vllm always brings torch
        has_cuda = False
    if not has_cuda and os.environ.get("VLLM_TARGET_DEVICE", "cuda") == "cuda":
        raise EngineUnavailable(
            "vLLM is installed but no CUDA device is visible (torch.cuda.is_available() is "
            "False): run this backend on a GPU machine (or a CPU build of vLLM with "
            "VLLM_TARGET_DEVICE=cpu)"
        )
    problem = config.local_folder_problem()
    if problem is not None:
        raise ConfigError(problem)
    render = _chat_template_renderer(config)
    kwargs = config.engine_kwargs()
    if isinstance(kwargs.get("structured_outputs_config"), dict):  # vLLM takes only its class
        from vllm.config import StructuredOutputsConfig

        kwargs["structured_outputs_config"] = StructuredOutputsConfig(
            **kwargs["structured_outputs_config"]
        )
    try:
        engine_args = vllm.AsyncEngineArgs(**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"vllm model config: AsyncEngineArgs rejected an argument: {exc}"
        ) from exc
    engine = vllm.AsyncLLMEngine.from_engine_args(engine_args)
    versions = {"vllm": vllm.__version__}
    for dist in ("torch", "transformers"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return LoadedEngine(
        engine, render, detect_sampling_api(sampling_module), versions, _client_errors()
    )


def _client_errors() -> tuple[type[BaseException], ...]:
    """vLLM's exception for a refused request (0.11+: ``vllm.exceptions.VLLMClientError``)."""
    try:
        from vllm.exceptions import VLLMClientError
    except ImportError:
        return (ValueError,)
    return (VLLMClientError, ValueError)


def _chat_template_renderer(config: VllmModelConfig) -> Callable[[list[dict[str, Any]]], str]:
    """``apply_chat_template`` of the model's processor (or tokenizer) as a function.

    The processor's template is the one that knows the model's image placeholders
    (Qwen2-VL's ``<|vision_start|><|image_pad|><|vision_end|>``); the tokenizer's is the
    fallback for text-only models.
    """
    from transformers import AutoProcessor, AutoTokenizer

    source = config.tokenizer or config.model
    common = {"trust_remote_code": config.trust_remote_code, "revision": config.revision}
    try:
        templater: Any = AutoProcessor.from_pretrained(source, **common)
    except (ImportError, OSError, ValueError, KeyError):
        # e.g. transformers 5's Qwen2-VL processor without torchvision: the tokenizer
        # carries the same template
        templater = None
    if templater is None or not (config.chat_template or getattr(templater, "chat_template", None)):
        templater = AutoTokenizer.from_pretrained(source, **common)
    if not (config.chat_template or getattr(templater, "chat_template", None)):
        raise ConfigError(
            f"vllm model config: field 'chat_template': {source} has no chat template of its "
            "own, so one must be given"
        )

    def render(messages: list[dict[str, Any]]) -> str:
        return templater.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=True,
            chat_template=config.chat_template,
        )

    return render
