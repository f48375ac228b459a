"""What the tiny random-weight checkpoint builders (make_tiny_*.py) share: a byte-level BPE
trained on a small built-in corpus, the tokenizer files that describe its special tokens, and
JSON written the way checkpoints on the hub are (indented, UTF-8, a final newline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def train_byte_level_bpe(corpus: str, special_tokens: list[str], vocab_size: int):
    """A byte-level BPE (as Qwen's, Llama 3's, SmolVLM's) trained on ``corpus``'s lines; the
    special tokens get ids 0..n-1 in order. No post-processor: each builder sets its own."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = [line for line in corpus.splitlines() if line.strip()]
    tokenizer.train_from_iterator(lines * 4, trainer=trainer)
    return tokenizer


def padded_vocab_size(tokenizer, multiple: int = 64) -> int:
    """The embedding rows a checkpoint has: the vocabulary padded, as real ones are."""
    return ((tokenizer.get_vocab_size() + multiple - 1) // multiple) * multiple


def added_tokens_decoder(tokenizer, special_tokens: list[str]) -> dict[str, dict[str, Any]]:
    """``tokenizer_config.json``'s ``added_tokens_decoder`` for the special tokens."""
    return {
        str(tokenizer.token_to_id(token)): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token in special_tokens
    }


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
