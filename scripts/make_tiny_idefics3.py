#!/usr/bin/env python3
"""Build a tiny random-weight Idefics3 (SmolVLM layout) checkpoint offline, for vLLM on the CPU.

vLLM's CPU engine runs on machines without a GPU, but only for architectures whose code path
never imports torchvision (PyPI has no torchvision build for the CPU torch): Qwen2-VL, LLaVA,
PaliGemma, Gemma 3 and InternVL all need it; Idefics3 / SmolVLM with the PIL image processor
(``Idefics3ImageProcessorPil``) and no image splitting does not. So this is the checkpoint the
``smoke-vllm`` session serves with both the vLLM and the transformers backends, and the one
backend parity is measured on. It has every file a SmolVLM checkpoint has, only tiny (about
2 MB of weights) and random, and the same bytes for the same seed:

- ``config.json``: ``Idefics3ForConditionalGeneration``, a SigLIP-style vision tower (2 blocks,
  width 64, 112 px images in 14 px patches) and a Llama text model (2 layers, width 128,
  head_dim 32, the smallest size every vLLM attention backend takes); pixel shuffle by 2, so an
  image is 16 ``<image>`` tokens between ``<fake_token_around_image><global-img>`` and
  ``<fake_token_around_image>``;
- ``model.safetensors``: initialised by transformers from the seed, with a wide initializer
  range so that greedy decoding has clear winners (near-equal logits would make a parity check
  of two backends measure float rounding, not the backends);
- a byte-level BPE tokenizer trained here with the ``tokenizers`` library on a small built-in
  Russian/English corpus, whose post-processor **adds a BOS** (``<|im_start|>``, as SmolVLM's
  does). The chat template writes the BOS too (``{{ bos_token }}``), so a backend that renders
  the template and then tokenizes with special tokens added starts the prompt with two BOS
  tokens: the smoke tests look for exactly one;
- ``preprocessor_config.json`` / ``processor_config.json``: the PIL image processor, no image
  splitting, ``image_seq_len`` 16; the chat template (``chat_template.jinja`` and in
  ``tokenizer_config.json``).

Answers are random tokens: use it for plumbing and parity, never for quality numbers.

Usage::

    pip install torch transformers tokenizers pillow safetensors
    python scripts/make_tiny_idefics3.py /tmp/tiny-idefics3 --check

``--check`` reloads the folder with transformers (AutoProcessor and
AutoModelForImageTextToText), checks the BOS, the image tokens and runs a short generation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_checkpoint import (
    added_tokens_decoder,
    padded_vocab_size,
    train_byte_level_bpe,
    write_json,
)

BOS, EOS, PAD = "<|im_start|>", "<end_of_utterance>", "<|endoftext|>"
FAKE_IMAGE, IMAGE, GLOBAL_IMAGE = "<fake_token_around_image>", "<image>", "<global-img>"
#: Idefics3's processor looks every tile tag up even when images are never split.
TILE_TAGS = [f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)]
SPECIAL_TOKENS = [PAD, BOS, EOS, FAKE_IMAGE, IMAGE, GLOBAL_IMAGE, *TILE_TAGS]

# Written for this script: SmolVLM's conversation format ("User: ...<end_of_utterance>\n"),
# with the BOS written by the template and images where the message's parts put them.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}: {{ message['content'] }}"
    "{% else %}"
    "{% if message['content'][0]['type'] == 'image' %}:{% else %}: {% endif %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}<image>{% endif %}"
    "{% endfor %}{% endif %}"
    "<end_of_utterance>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)

CORPUS = """
Паспорт гражданина Российской Федерации. Фамилия Иванов, имя Иван, отчество Иванович.
Дата рождения 01.02.1990. Место рождения город Москва. Пол мужской. Код подразделения 770-001.
Страховое свидетельство СНИЛС номер 123-456-789 01. Дата регистрации 15.03.2005.
ИНН 7707083893. Счёт на оплату № 42 от 12 мая 2024 года. Итого к оплате 15 000 рублей.
Напиши Фамилия. Напиши Имя. Напиши Дата рождения. Ответ в формате JSON.
The quick brown fox jumps over the lazy dog. Read the document and answer the question.
Invoice number, total amount, date of issue, taxpayer identification number, passport.
User: Assistant: System: You are a helpful assistant. Extract the fields as a JSON object.
{"surname": "Иванов", "name": "Иван", "date_of_birth": "01.02.1990", "number": "123"}
0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 2025 , . : ; - ( ) [ ] { } " ' / № %
"""

TEXT = {
    "model_type": "llama",
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,  # head_dim 32
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
}
IMAGE_SIZE, PATCH_SIZE, SCALE_FACTOR = 112, 14, 2
VISION = {
    "model_type": "idefics3_vision",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,  # head_dim 32
    "num_channels": 3,
    "image_size": IMAGE_SIZE,
    "patch_size": PATCH_SIZE,
    "hidden_act": "gelu_pytorch_tanh",
    "layer_norm_eps": 1e-6,
}
IMAGE_SEQ_LEN = (IMAGE_SIZE // PATCH_SIZE) ** 2 // SCALE_FACTOR**2  # 16 tokens an image
#: Wider than transformers' 0.02, so the argmax of every step has a clear margin.
INITIALIZER_RANGE = 0.2


def train_tokenizer(vocab_size: int = 800):
    """A byte-level BPE trained on CORPUS; the post-processor prepends the BOS to every text."""
    from tokenizers import processors

    tokenizer = train_byte_level_bpe(CORPUS, SPECIAL_TOKENS, vocab_size)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return tokenizer


def build(out_dir: Path, seed: int = 0) -> dict:
    """Write the checkpoint to ``out_dir``; returns the config written."""
    import torch
    from safetensors.torch import save_file
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer()
    ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
    vocab_size = padded_vocab_size(tokenizer)
    config = {
        "architectures": ["Idefics3ForConditionalGeneration"],
        "model_type": "idefics3",
        "image_token_id": ids[IMAGE],
        "scale_factor": SCALE_FACTOR,
        "tie_word_embeddings": False,
        "use_cache": True,
        "torch_dtype": "float32",
        "bos_token_id": ids[BOS],
        "eos_token_id": ids[EOS],
        "pad_token_id": ids[PAD],
        "initializer_range": INITIALIZER_RANGE,
        "text_config": {
            **TEXT,
            "vocab_size": vocab_size,
            "bos_token_id": ids[BOS],
            "eos_token_id": ids[EOS],
            "pad_token_id": ids[PAD],
            "initializer_range": INITIALIZER_RANGE,
            "torch_dtype": "float32",
        },
        "vision_config": {**VISION, "initializer_range": INITIALIZER_RANGE},
    }
    write_json(out_dir / "config.json", config)

    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(Idefics3Config.from_pretrained(out_dir))
    with torch.no_grad():  # every tensor from the seed, whatever init a release skips
        generator = torch.Generator().manual_seed(seed)
        for name, tensor in sorted(model.state_dict().items()):
            if "norm" in name:
                tensor.fill_(1.0) if name.endswith("weight") else tensor.zero_()
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * INITIALIZER_RANGE)
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    save_file(state, out_dir / "model.safetensors", metadata={"format": "pt"})
    write_json(
        out_dir / "generation_config.json",
        {
            "bos_token_id": ids[BOS],
            "eos_token_id": ids[EOS],
            "pad_token_id": ids[PAD],
            "do_sample": False,
        },
    )
    _write_tokenizer(out_dir, tokenizer)
    _write_processor(out_dir)
    return config


def _write_tokenizer(out_dir: Path, tokenizer) -> None:
    tokenizer.save(str(out_dir / "tokenizer.json"))
    added = added_tokens_decoder(tokenizer, SPECIAL_TOKENS)
    extra = [FAKE_IMAGE, IMAGE, EOS, GLOBAL_IMAGE]
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "additional_special_tokens": extra,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "unk_token": PAD,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": TEXT["max_position_embeddings"],
        "chat_template": CHAT_TEMPLATE,
    }
    write_json(out_dir / "tokenizer_config.json", tokenizer_config)
    write_json(
        out_dir / "special_tokens_map.json",
        {
            "bos_token": BOS,
            "eos_token": EOS,
            "pad_token": PAD,
            "unk_token": PAD,
            "additional_special_tokens": extra,
        },
    )


def _write_processor(out_dir: Path) -> None:
    preprocessor = {
        "image_processor_type": "Idefics3ImageProcessorPil",
        "processor_class": "Idefics3Processor",
        "do_convert_rgb": True,
        "do_resize": True,
        "size": {"longest_edge": IMAGE_SIZE},
        "resample": 1,  # LANCZOS, as SmolVLM
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_pad": True,
        "do_image_splitting": False,
        "max_image_size": {"longest_edge": IMAGE_SIZE},
    }
    write_json(out_dir / "preprocessor_config.json", preprocessor)
    write_json(
        out_dir / "processor_config.json",
        {"processor_class": "Idefics3Processor", "image_seq_len": IMAGE_SEQ_LEN},
    )
    (out_dir / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")


def check(out_dir: Path) -> dict:
    """Reload with transformers and run the model once on the CPU; returns what was seen."""
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    bos_id = tokenizer.convert_tokens_to_ids(BOS)
    if tokenizer("Фамилия").input_ids[:1] != [bos_id]:
        raise RuntimeError(f"the tokenizer does not add the BOS {BOS!r} (id {bos_id})")
    model, loading = AutoModelForImageTextToText.from_pretrained(out_dir, output_loading_info=True)
    model.eval()
    problems = {k: v for k, v in loading.items() if v and k in ("missing_keys", "unexpected_keys")}
    if problems:
        raise RuntimeError(f"weights do not match the model: {problems}")
    processor = AutoProcessor.from_pretrained(out_dir)
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "Напиши Фамилия"}],
        }
    ]
    prompt = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image = Image.new("RGB", (120, 80), (200, 30, 30))
    inputs = processor(
        text=[prompt], images=[[image]], return_tensors="pt", add_special_tokens=False
    )
    input_ids = inputs["input_ids"][0].tolist()
    with torch.no_grad():
        generated = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    return {
        "processor": type(processor).__name__,
        "image_processor": type(processor.image_processor).__name__,
        "input_ids": len(input_ids),
        "bos_tokens": input_ids.count(bos_id),
        "image_tokens": input_ids.count(model.config.image_token_id),
        "pixel_values": list(inputs["pixel_values"].shape),
        "generated_tokens": int(generated.shape[1] - inputs["input_ids"].shape[1]),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


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
    vocab = config["text_config"]["vocab_size"]
    print(f"wrote {args.out_dir} (vocab {vocab}): {', '.join(files)}")
    if args.check:
        seen = check(args.out_dir)
        for key, value in seen.items():
            print(f"  {key}: {value!r}")
        if seen["image_tokens"] != IMAGE_SEQ_LEN or seen["bos_tokens"] != 1:
            print(
                f"expected {IMAGE_SEQ_LEN} image tokens and one BOS in the prompt: {seen}",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
