"""Loading a checkpoint with transformers and running one batch through ``generate``.

Everything here is synchronous and blocking; the backend runs it on its own worker thread,
never on the wrapper's event loop.
"""

from __future__ import annotations

import copy
import gc
import importlib.metadata
import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, LogitsProcessorList
from vlmhb_api_wrapper.backend import GenerationRequest, GenerationResult

from vlmhb_transformers_adapter.config import TransformersModelConfig
from vlmhb_transformers_adapter.decoding import GrammarFactory, RowController, RowPlan
from vlmhb_transformers_adapter.mapping import (
    RequestError,
    Sampling,
    count_images,
    decode_images,
    sampling_for,
    structured_output,
    to_chat_messages,
)

log = logging.getLogger(__name__)


class LoadError(RuntimeError):
    """The checkpoint could not be loaded; the message says what to change."""


@dataclass
class LoadedModel:
    model: Any
    processor: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    stop_token_ids: list[int]
    grammars: GrammarFactory
    defaults: Sampling
    processor_note: str
    versions: dict[str, str] = field(default_factory=dict)

    def release(self) -> None:
        """Drop every reference to weights and buffers so their memory can be reclaimed."""
        self.model = self.processor = self.tokenizer = self.grammars = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


@dataclass
class PreparedRequest:
    """A request ready for the processor, or the error that stops it alone."""

    request: GenerationRequest
    chat: list[dict[str, Any]] | None = None
    images: list[Any] = field(default_factory=list)
    plan: RowPlan | None = None
    error: str | None = None


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("vlmhb-transformers-adapter", "transformers", "torch", "xgrammar", "tokenizers"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - editable oddities
            continue
    return found


def resolve_device(config: TransformersModelConfig) -> tuple[torch.device, torch.dtype]:
    cuda = torch.cuda.is_available()
    if config.device == "cuda" and not cuda:
        raise LoadError(
            f"device 'cuda' was asked for, but torch {torch.__version__} sees no CUDA device "
            "(a CPU build of torch, or no GPU): use device 'cpu' or 'auto'"
        )
    device = torch.device(
        "cuda" if config.device == "cuda" or (config.device == "auto" and cuda) else "cpu"
    )
    if config.dtype == "auto":
        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
    else:
        dtype = getattr(torch, config.dtype)
    return device, dtype


def load_processor(path: str, config: TransformersModelConfig) -> tuple[Any, str]:
    """The checkpoint's processor; without torchvision, the same class minus its video part.

    transformers 5 builds a video processor for Qwen2-VL-class checkpoints, and video
    processors need torchvision, which has no build on PyPI matching a CPU torch. Images
    never touch it, so the processor class is subclassed without the ``video_processor``
    attribute and loaded from the same files: prompts, image tokens and pixel values are
    exactly what the full processor makes.
    """
    kwargs = {"trust_remote_code": config.trust_remote_code, **config.processor_kwargs}
    try:
        return AutoProcessor.from_pretrained(path, **kwargs), "AutoProcessor"
    except ImportError as exc:
        if "torchvision" not in str(exc).lower():
            raise
        reason = str(exc).strip().splitlines()[0]
    from transformers.models.auto.processing_auto import (
        PROCESSOR_MAPPING_NAMES,
        processor_class_from_name,
    )

    model_type = AutoConfig.from_pretrained(
        path, trust_remote_code=config.trust_remote_code
    ).model_type
    class_name = PROCESSOR_MAPPING_NAMES.get(model_type)
    base = processor_class_from_name(class_name) if class_name else None
    if base is None or "video_processor" not in base.get_attributes():
        raise LoadError(f"{path}: the processor needs torchvision, which is missing: {reason}")

    class ImageOnlyProcessor(base):  # type: ignore[misc, valid-type]
        @classmethod
        def get_attributes(cls) -> list[str]:
            return [name for name in super().get_attributes() if name != "video_processor"]

    ImageOnlyProcessor.__name__ = ImageOnlyProcessor.__qualname__ = f"{base.__name__}ImagesOnly"
    processor = ImageOnlyProcessor.from_pretrained(path, **kwargs)
    return processor, f"{base.__name__} without its video processor (no torchvision)"


def _checkpoint_defaults(generation_config: Any) -> Sampling:
    if getattr(generation_config, "do_sample", False):
        return Sampling(
            max_tokens=0,
            temperature=float(generation_config.temperature or 1.0),
            top_p=float(generation_config.top_p or 1.0),
            seed=None,
        )
    return Sampling(max_tokens=0, temperature=0.0, top_p=1.0, seed=None)


def load_model(config: TransformersModelConfig) -> LoadedModel:
    """Processor, weights, stop tokens and grammar compiler of a local checkpoint."""
    torch.set_num_threads(config.torch_threads())
    device, dtype = resolve_device(config)
    path = config.model
    try:
        processor, note = load_processor(path, config)
    except LoadError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise LoadError(f"{path}: cannot load the processor: {exc}") from exc
    if config.chat_template is not None:
        processor.chat_template = config.chat_template
    if not getattr(processor, "chat_template", None):
        raise LoadError(
            f"{path}: the checkpoint has no chat template; give one as 'chat_template' in the "
            "model config"
        )
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "trust_remote_code": config.trust_remote_code,
        "local_files_only": True,
        **config.model_kwargs,
    }
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    try:
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise LoadError(f"{path}: cannot load the weights: {exc}") from exc
    model.to(device).eval()

    eos = model.generation_config.eos_token_id
    stop = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in stop:
        stop.append(tokenizer.eos_token_id)
    if not stop:
        raise LoadError(f"{path}: neither generation_config.json nor the tokenizer names an EOS")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(stop[0])
    vocab_size = int(model.get_output_embeddings().weight.shape[0])
    return LoadedModel(
        model=model,
        processor=processor,
        tokenizer=tokenizer,
        device=device,
        dtype=dtype,
        stop_token_ids=stop,
        grammars=GrammarFactory(tokenizer, vocab_size, stop),
        defaults=_checkpoint_defaults(model.generation_config),
        processor_note=note,
        versions=_versions(),
    )


def prepare(
    loaded: LoadedModel, config: TransformersModelConfig, request: GenerationRequest
) -> PreparedRequest:
    """Everything that can fail for one request alone, done before the batch runs."""
    prepared = PreparedRequest(request=request)
    try:
        n_images = count_images(request.messages)
        if n_images > config.max_images_per_prompt:
            raise RequestError(
                f"{n_images} images, but the model is loaded with "
                f"max_images_per_prompt={config.max_images_per_prompt}"
            )
        prepared.images = decode_images(request.messages)
        prepared.chat = to_chat_messages(request.messages)
        constraint = structured_output(request.response_format)
        grammar = loaded.grammars.compile(constraint) if constraint else None
        sampling = sampling_for(request, config.default_max_tokens, loaded.defaults)
        prepared.plan = RowPlan(sampling=sampling, grammar=grammar)
    except RequestError as exc:
        prepared.error = f"request {request.request_id}: {exc}"
    return prepared


def generate_batch(loaded: LoadedModel, rows: list[PreparedRequest]) -> list[GenerationResult]:
    """One ``generate`` call for prepared, error-free rows; results in the same order."""
    processor, model = loaded.processor, loaded.model
    texts = []
    for row in rows:
        try:
            texts.append(
                processor.apply_chat_template(row.chat, tokenize=False, add_generation_prompt=True)
            )
        except Exception as exc:
            raise RequestError(
                f"request {row.request.request_id}: the chat template failed: {exc}"
            ) from exc
    images = [row.images for row in rows] if any(row.images for row in rows) else None
    # The chat template writes the BOS itself: adding special tokens again would start Llama-,
    # Gemma- and SmolVLM-based prompts with two (and answer differently from vLLM, which
    # tokenises rendered chat prompts the same way).
    inputs = processor(
        text=texts, images=images, return_tensors="pt", padding=True, add_special_tokens=False
    )
    inputs = {
        key: (
            value.to(loaded.device, loaded.dtype)
            if torch.is_floating_point(value)
            else value.to(loaded.device)
        )
        for key, value in inputs.items()
        if isinstance(value, torch.Tensor)
    }
    plans = [row.plan for row in rows]
    assert all(plan is not None for plan in plans)
    controller = RowController(plans, loaded.grammars, loaded.stop_token_ids)  # type: ignore[arg-type]
    generation_config = copy.deepcopy(model.generation_config)
    for key, value in {
        "do_sample": False,
        "num_beams": 1,
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "max_length": None,
        "max_new_tokens": max(plan.sampling.max_tokens for plan in plans) + 1,
        "eos_token_id": loaded.stop_token_ids,
        "pad_token_id": loaded.tokenizer.pad_token_id,
    }.items():
        setattr(generation_config, key, value)
    with torch.inference_mode():
        sequences = model.generate(
            **inputs,
            generation_config=generation_config,
            logits_processor=LogitsProcessorList([controller]),
        )
    prompt_length = inputs["input_ids"].shape[1]
    results = []
    for index, state in enumerate(controller.states):
        new = sequences[index, prompt_length:].tolist()
        stop_at = next((i for i, t in enumerate(new) if t in loaded.stop_token_ids), None)
        tokens = new if stop_at is None else new[:stop_at]
        natural_stop = stop_at is not None and not state.stopped_by_budget
        complete = (
            state.matcher is None or state.matcher.is_terminated() or state.matcher.is_completed()
        )
        finish = "stop" if natural_stop and complete else "length"
        results.append(
            GenerationResult(
                text=loaded.tokenizer.decode(tokens, skip_special_tokens=True),
                prompt_tokens=int(inputs["attention_mask"][index].sum()),
                completion_tokens=len(tokens) + (1 if natural_stop else 0),
                finish_reason=finish,
                error=state.grammar_error,
            )
        )
    return results


def run_requests(
    loaded: LoadedModel, config: TransformersModelConfig, requests: list[GenerationRequest]
) -> list[GenerationResult]:
    """Results for every request: refused ones alone, the rest batched.

    When a batch fails as a whole (out of memory, a processor error), each request is run
    alone so that one bad request costs only its own answer.
    """
    prepared = [prepare(loaded, config, request) for request in requests]
    results: list[GenerationResult | None] = [
        _error(row.error) if row.error else None for row in prepared
    ]
    runnable = [i for i, row in enumerate(prepared) if row.error is None]
    if not runnable:
        return results  # type: ignore[return-value]
    try:
        batch = generate_batch(loaded, [prepared[i] for i in runnable])
        for i, result in zip(runnable, batch, strict=True):
            results[i] = result
    except Exception as exc:
        if len(runnable) == 1:
            results[runnable[0]] = _error(
                f"request {prepared[runnable[0]].request.request_id}: generation failed: {exc}"
            )
        else:
            log.warning("a batch of %d failed (%s): running each alone", len(runnable), exc)
            for i in runnable:
                try:
                    results[i] = generate_batch(loaded, [prepared[i]])[0]
                except Exception as one:
                    results[i] = _error(
                        f"request {prepared[i].request.request_id}: generation failed: {one}"
                    )
    return results  # type: ignore[return-value]


def _error(message: str) -> GenerationResult:
    return GenerationResult(text="", finish_reason="error", error=message)
