#!/usr/bin/env python3
"""Build a tiny random-weight Qwen2-VL checkpoint offline, for end-to-end runs without a model hub.

The GPU machines here reach no model hub, yet the vLLM backend should be exercised for real:
weights loaded by vLLM, the chat template applied, images through the vision tower, guided
JSON decoding, batching, token usage. This script makes a checkpoint that has every file a
real Qwen2-VL checkpoint has, only tiny (about 3 MB of weights) and random:

- ``config.json``: the classic flat Qwen2-VL layout that every transformers / vLLM release
  reads (2 text layers of width 128, a 2-block vision tower, M-RoPE sections that fit);
- ``model.safetensors``: randomly initialised by transformers, saved under the key names of
  the published checkpoints (``model.layers.*``, ``visual.*``, ``lm_head.*``);
- a byte-level BPE tokenizer trained here with the ``tokenizers`` library on a small built-in
  Russian/English corpus, with Qwen2-VL's special tokens (``<|im_start|>``,
  ``<|vision_start|>``, ``<|image_pad|>``...) at the ids the config names;
- ``preprocessor_config.json`` with a small ``max_pixels`` (an image is at most 256 tokens,
  so a 2048-token context is enough) and the chat template (``chat_template.jinja``, also in
  ``tokenizer_config.json`` and ``chat_template.json`` for older transformers).

Answers are random tokens: use it for plumbing, never for quality numbers.

Usage::

    pip install torch transformers tokenizers pillow safetensors
    python scripts/make_tiny_qwen2vl.py /tmp/tiny-qwen2-vl --check

``--check`` reloads the folder with transformers (AutoProcessor and
Qwen2VLForConditionalGeneration) and runs a forward pass and a short generation on the CPU.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_checkpoint import added_tokens_decoder, padded_vocab_size, train_byte_level_bpe

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Written for this script: the Qwen2-VL conversation format, with image and video
# placeholders wherever the message's parts put them.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or 'video' in part %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = """
Паспорт гражданина Российской Федерации. Фамилия Иванов, имя Иван, отчество Иванович.
Дата рождения 01.02.1990. Место рождения город Москва. Пол мужской. Код подразделения 770-001.
Страховое свидетельство СНИЛС номер 123-456-789 01. Дата регистрации 15.03.2005.
ИНН 7707083893. Счёт на оплату № 42 от 12 мая 2024 года. Итого к оплате 15 000 рублей.
Договор беспроцентного займа. Займодавец передаёт заёмщику денежные средства.
Напиши Фамилия. Напиши Имя. Напиши Дата рождения. Ответ в формате JSON.
The quick brown fox jumps over the lazy dog. Read the document and answer the question.
Invoice number, total amount, date of issue, taxpayer identification number, passport.
You are a helpful assistant. Extract the fields and return a JSON object.
{"surname": "Иванов", "name": "Иван", "date_of_birth": "01.02.1990", "number": "123"}
0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 2025 , . : ; - ( ) [ ] { } " ' / № %
"""

TEXT = {
    "hidden_size": 128,
    "intermediate_size": 256,
    # head_dim 32, the smallest size every vLLM attention backend takes; M-RoPE sections
    # (temporal, height, width) must sum to head_dim / 2
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
}
VISION = {
    "depth": 2,
    "embed_dim": 64,
    "num_heads": 2,  # head_dim 32 in the vision tower too
    "mlp_ratio": 2,
    "hidden_size": TEXT["hidden_size"],  # the merger projects into the text width
    "in_channels": 3,
    "in_chans": 3,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "hidden_act": "quick_gelu",
}
MIN_PIXELS, MAX_PIXELS = 56 * 56, 448 * 448


def train_tokenizer(vocab_size: int = 1000):
    """A byte-level BPE (as Qwen's) trained on CORPUS; special tokens get ids 0..13."""
    from tokenizers import processors

    tokenizer = train_byte_level_bpe(CORPUS, SPECIAL_TOKENS, vocab_size)
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def build(out_dir: Path, seed: int = 0) -> dict:
    """Write the checkpoint to ``out_dir``; returns the config written."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
    vocab_size = padded_vocab_size(tokenizer)

    config = {
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "model_type": "qwen2_vl",
        **TEXT,
        "vocab_size": vocab_size,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "rope_scaling": {"type": "mrope", "rope_type": "default", "mrope_section": [4, 6, 6]},
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "use_cache": True,
        "use_sliding_window": False,
        "sliding_window": 4096,
        "max_window_layers": TEXT["num_hidden_layers"],
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "vision_token_id": ids["<|vision_pad|>"],
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_config": VISION,
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(Qwen2VLConfig.from_pretrained(out_dir))
    state = {_published_key(k): v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, out_dir / "model.safetensors", metadata={"format": "pt"})

    (out_dir / "generation_config.json").write_text(
        json.dumps(
            {
                "bos_token_id": ids["<|endoftext|>"],
                "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
                "pad_token_id": ids["<|endoftext|>"],
                "do_sample": False,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    _write_tokenizer(out_dir, tokenizer)
    _write_processor(out_dir)
    return config


def _published_key(key: str) -> str:
    """transformers >= 4.52 nests modules; published checkpoints (and older readers) do not."""
    if key.startswith("model.language_model."):
        return "model." + key[len("model.language_model.") :]
    if key.startswith("model.visual."):
        return key[len("model.") :]
    return key


def _write_tokenizer(out_dir: Path, tokenizer) -> None:
    tokenizer.save(str(out_dir / "tokenizer.json"))
    tokenizer.model.save(str(out_dir))  # vocab.json + merges.txt, for slow-tokenizer readers
    added = added_tokens_decoder(tokenizer, SPECIAL_TOKENS)
    tokenizer_config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": added,
        "additional_special_tokens": SPECIAL_TOKENS[1:],
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "model_max_length": TEXT["max_position_embeddings"],
        "chat_template": CHAT_TEMPLATE,
    }
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out_dir / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "eos_token": "<|im_end|>",
                "pad_token": "<|endoftext|>",
                "additional_special_tokens": SPECIAL_TOKENS[1:],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


def _write_processor(out_dir: Path) -> None:
    preprocessor = {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
        "do_convert_rgb": True,
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "min_pixels": MIN_PIXELS,
        "max_pixels": MAX_PIXELS,
        "size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
        "patch_size": VISION["patch_size"],
        "temporal_patch_size": VISION["temporal_patch_size"],
        "merge_size": VISION["spatial_merge_size"],
    }
    (out_dir / "preprocessor_config.json").write_text(
        json.dumps(preprocessor, indent=2) + "\n", encoding="utf-8"
    )
    (out_dir / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    (out_dir / "chat_template.json").write_text(
        json.dumps({"chat_template": CHAT_TEMPLATE}, indent=2) + "\n", encoding="utf-8"
    )


def check(out_dir: Path) -> dict:
    """Reload with transformers and run the model once on the CPU; returns what was seen."""
    import torch
    from PIL import Image
    from transformers import Qwen2VLForConditionalGeneration

    model, loading = Qwen2VLForConditionalGeneration.from_pretrained(
        out_dir, output_loading_info=True
    )
    model.eval()
    problems = {k: v for k, v in loading.items() if v and k in ("missing_keys", "unexpected_keys")}
    if problems:
        raise RuntimeError(f"weights do not match the model: {problems}")
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "Напиши Фамилия"}],
        }
    ]
    image = Image.new("RGB", (120, 80), (200, 30, 30))
    inputs, how = _processed(out_dir, messages, image)
    if "mm_token_type_ids" not in inspect.signature(model.forward).parameters:
        inputs.pop("mm_token_type_ids", None)  # transformers < 5 computes M-RoPE without it
    image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    with torch.no_grad():
        logits = model(**inputs).logits
        generated = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    new_tokens = generated[0, inputs["input_ids"].shape[1] :]
    return {
        "processor": how,
        "input_ids": list(inputs["input_ids"].shape),
        "pixel_values": list(inputs["pixel_values"].shape),
        "image_grid_thw": inputs["image_grid_thw"].tolist(),
        "image_tokens": image_tokens,
        "logits": list(logits.shape),
        "generated_tokens": int(new_tokens.shape[0]),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _processed(out_dir: Path, messages: list, image) -> tuple[dict, str]:
    """Model inputs from the folder's processor files.

    transformers 5's ``Qwen2VLProcessor`` insists on torchvision (for its video processor),
    which is not always installable beside a CPU torch; then the same steps are done by hand
    from the folder's tokenizer, chat template and image processor: one ``<|image_pad|>``
    per merged patch, as the processor would.
    """
    try:
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(out_dir)
    except ImportError:
        processor = None
    if processor is not None:
        prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return processor(text=[prompt], images=[image], return_tensors="pt"), "AutoProcessor"

    from transformers import AutoImageProcessor, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    image_processor = AutoImageProcessor.from_pretrained(out_dir)
    pixels = image_processor(images=[image], return_tensors="pt")
    grid = pixels["image_grid_thw"][0]
    n_tokens = int(grid.prod()) // VISION["spatial_merge_size"] ** 2
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt = prompt.replace("<|image_pad|>", "<|image_pad|>" * n_tokens, 1)
    encoded = dict(tokenizer([prompt], return_tensors="pt"))
    image_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # text 0, image 1: what the processor returns for M-RoPE in transformers 5
    encoded["mm_token_type_ids"] = (encoded["input_ids"] == image_id).int()
    return {**encoded, **pixels}, f"tokenizer + {type(image_processor).__name__} (no torchvision)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder to write the checkpoint to")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument(
        "--check", action="store_true", help="reload it with transformers and run it on the CPU"
    )
    args = parser.parse_args(argv)
    config = build(args.out_dir, seed=args.seed)
    files = sorted(p.name for p in args.out_dir.iterdir())
    print(f"wrote {args.out_dir} (vocab {config['vocab_size']}): {', '.join(files)}")
    if args.check:
        seen = check(args.out_dir)
        expected = seen["image_grid_thw"][0]
        merge = VISION["spatial_merge_size"] ** 2
        if seen["image_tokens"] != expected[0] * expected[1] * expected[2] // merge:
            print(f"image placeholder count does not match the grid: {seen}", file=sys.stderr)
            return 1
        for key, value in seen.items():
            print(f"  {key}: {value!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
