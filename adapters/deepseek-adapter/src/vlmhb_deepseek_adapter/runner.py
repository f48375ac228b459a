"""Running DeepSeek-VL2 / DeepSeek-OCR with the models' own inference code.

torch, transformers and ``deepseek_vl2`` are imported only here and only when a model is
loaded: the package installs and imports on machines without them (the wrapper, the tests,
the registry tooling), and the engine extra is needed only to run a model.
"""

from __future__ import annotations

import collections
import collections.abc
import importlib.metadata
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vlmhb_deepseek_adapter.config import DeepseekModelConfig
from vlmhb_deepseek_adapter.mapping import PreparedRequest

#: Where DeepSeek-VL2's inference code comes from (as in the engine extra).
DEEPSEEK_VL2_GIT = "https://github.com/deepseek-ai/DeepSeek-VL2"
DEEPSEEK_VL2_REF = "ef9f91e2b6426536b83294c11742c27be66361b1"  # main, 2025-02-26

INSTALL_HINTS = {
    "vl2": "install the engine extra on a machine with a CUDA GPU: "
    "`pip install 'vlmhb-deepseek-adapter[engine]'` (deepseek_vl2 from "
    f"{DEEPSEEK_VL2_GIT} at {DEEPSEEK_VL2_REF}, torch 2.0.1, transformers 4.38.2; Python 3.10 or 3.11)",
    "ocr": "install the ocr extra on a machine with a CUDA GPU: "
    "`pip install 'vlmhb-deepseek-adapter[ocr]'` (torch 2.6.0, transformers 4.46.3)",
}


class EngineUnavailable(RuntimeError):
    """The model cannot run here (missing packages, no GPU): the message says what to do."""


@dataclass
class RunOutput:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length"


class Runner(Protocol):
    """One loaded model; ``run`` is blocking and is called from a worker thread, one at a time."""

    versions: dict[str, str]

    def run(self, prepared: PreparedRequest) -> RunOutput: ...

    def close(self) -> None: ...


def _require(module: str, variant: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise EngineUnavailable(
            f"{module} is not importable ({exc}): {INSTALL_HINTS[variant]}"
        ) from exc


def _patch_collections() -> None:
    """deepseek_vl2 imports attrdict, which still reads ``collections.Mapping`` (gone in 3.10)."""
    for name in ("Mapping", "MutableMapping", "Sequence", "Iterable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def _torch_on(config: DeepseekModelConfig) -> Any:
    torch = _require("torch", config.variant)
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailable(
            f"device {config.device!r} requested but torch sees no CUDA device: run this backend "
            "on a GPU machine (or set device: cpu, very slowly)"
        )
    return torch


def _versions(*dists: str) -> dict[str, str]:
    found = {}
    for dist in dists:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


class VL2Runner:
    """DeepseekVLV2Processor + DeepseekVLV2ForCausalLM, as in the model's inference.py."""

    def __init__(self, config: DeepseekModelConfig) -> None:
        self.torch = torch = _torch_on(config)
        _patch_collections()
        models = _require("deepseek_vl2.models", "vl2")
        transformers = _require("transformers", "vl2")
        self.config = config
        self.dtype = getattr(torch, config.dtype)
        self.processor = models.DeepseekVLV2Processor.from_pretrained(config.model)
        self.tokenizer = self.processor.tokenizer
        model = transformers.AutoModelForCausalLM.from_pretrained(
            config.model, torch_dtype=self.dtype, **config.model_kwargs()
        )
        self.model = model.to(config.device).eval()
        self.versions = _versions("torch", "transformers", "deepseek_vl2")

    def run(self, prepared: PreparedRequest) -> RunOutput:
        torch, model, tokenizer = self.torch, self.model, self.tokenizer
        if prepared.settings.seed is not None:
            torch.manual_seed(prepared.settings.seed)
        # The system prompt is the conversation's first turn: the processor's system_prompt
        # argument only feeds a display string (see mapping).
        inputs = self.processor(
            conversations=prepared.conversation, images=prepared.images, force_batchify=True
        ).to(model.device, dtype=self.dtype)
        with torch.no_grad():
            if self.config.chunk_size == -1:
                embeds, past = model.prepare_inputs_embeds(**inputs), None
            else:
                embeds, past = model.incremental_prefilling(
                    input_ids=inputs.input_ids,
                    images=inputs.images,
                    images_seq_mask=inputs.images_seq_mask,
                    images_spatial_crop=inputs.images_spatial_crop,
                    attention_mask=inputs.attention_mask,
                    chunk_size=self.config.chunk_size,
                )
            outputs = model.generate(
                inputs_embeds=embeds,
                input_ids=inputs.input_ids,
                images=inputs.images,
                images_seq_mask=inputs.images_seq_mask,
                images_spatial_crop=inputs.images_spatial_crop,
                attention_mask=inputs.attention_mask,
                past_key_values=past,
                pad_token_id=tokenizer.eos_token_id,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                use_cache=True,
                **prepared.settings.generate_kwargs(),
            )
        prompt_len = int(inputs.input_ids.shape[1])
        new_tokens = outputs[0][prompt_len:].cpu().tolist()
        return finish(
            new_tokens,
            tokenizer.decode(new_tokens, skip_special_tokens=True),
            prompt_len,
            tokenizer.eos_token_id,
            prepared.settings.max_new_tokens,
        )

    def close(self) -> None:
        del self.model
        if self.torch.cuda.is_available():
            self.torch.cuda.empty_cache()


class OCRRunner:
    """DeepSeek-OCR: the checkpoint's own ``model.infer`` (trust_remote_code).

    ``infer`` reads the image from a file and returns only text, so the image is written
    to a temporary file, and usage is counted by re-tokenising: prompt_tokens then counts
    the prompt's text tokens only, not the image's (documented in the README).
    """

    def __init__(self, config: DeepseekModelConfig) -> None:
        self.torch = torch = _torch_on(config)
        transformers = _require("transformers", "ocr")
        self.config = config
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(
            config.model, trust_remote_code=True
        )
        model = transformers.AutoModel.from_pretrained(
            config.model, use_safetensors=True, **config.model_kwargs()
        )
        self.model = model.eval().to(config.device).to(getattr(torch, config.dtype))
        self.versions = _versions("torch", "transformers")
        self._scratch = tempfile.TemporaryDirectory(prefix="vlmhb-deepseek-ocr-")

    def run(self, prepared: PreparedRequest) -> RunOutput:
        if prepared.settings.seed is not None:
            self.torch.manual_seed(prepared.settings.seed)
        image_file = Path(self._scratch.name) / f"{prepared.request_id}.png"
        prepared.images[0].save(image_file)
        try:
            text = self.model.infer(
                self.tokenizer,
                prompt=prepared.prompt,
                image_file=str(image_file),
                output_path=self._scratch.name,
                base_size=self.config.base_size,
                image_size=self.config.image_size,
                crop_mode=self.config.crop_mode,
                save_results=False,
                eval_mode=True,
            )
        finally:
            image_file.unlink(missing_ok=True)
        text = text or ""
        completion = self.tokenizer.encode(text, add_special_tokens=False)
        prompt = self.tokenizer.encode(prepared.prompt, add_special_tokens=False)
        return RunOutput(text.strip(), len(prompt), len(completion), "stop")

    def close(self) -> None:
        del self.model
        self._scratch.cleanup()
        if self.torch.cuda.is_available():
            self.torch.cuda.empty_cache()


def finish(
    new_tokens: list[int], text: str, prompt_tokens: int, eos_id: int | None, max_new: int
) -> RunOutput:
    """Usage and finish reason from the generated ids: 'length' when cut by max_new_tokens."""
    stopped = bool(new_tokens) and eos_id is not None and new_tokens[-1] == eos_id
    reason = "length" if not stopped and len(new_tokens) >= max_new else "stop"
    return RunOutput(text.strip(), prompt_tokens, len(new_tokens), reason)


def load_runner(config: DeepseekModelConfig) -> Runner:
    return OCRRunner(config) if config.variant == "ocr" else VL2Runner(config)
