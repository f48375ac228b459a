# Run:  uv run --with jiwer --with ./metrics/text-metrics python bench/bench_text_metrics.py
#       (options: --pairs N, --seed S, --repeat R)
"""CER and WER of vlmhb-text-metrics against jiwer, on generated Russian and English pairs.

Both libraries score the same 100,000 (prediction, reference) pairs in the same run. The
script fails (exit 1) unless the corpus values and every per-sample value agree to 1e-9,
then prints each library's best-of-R time and the speed ratio (goal: >= 20x faster).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jiwer
from vlmhb_text_metrics import cer, wer

sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure

RU = (
    "паспорт гражданина российской федерации выдан отделом внутренних дел фамилия имя "
    "отчество дата рождения место рождения пол мужской женский снилс номер страхового "
    "свидетельства ёлка счёт фактура поставщик покупатель итого сумма налог договор займа "
    "беспроцентного город москва санкт петербург область район улица дом квартира"
).split()
EN = (
    "passport invoice number date of birth place issued by department total amount tax "
    "supplier buyer agreement loan interest free city street house apartment region the "
    "a of and to in for with on at by from name surname gender male female document"
).split()
GOAL = 20.0  # speed-up over jiwer the package aims for (printed, not asserted)
NOISE = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяabcdefghijklmnopqrstuvwxyz0123456789.,-"


def corrupt(text: str, rng: random.Random) -> str:
    """An OCR-like prediction: character substitutions, insertions, deletions, spaces."""
    chars = list(text)
    for _ in range(rng.randint(0, max(1, len(chars) // 8))):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.4 and pos < len(chars):
            chars[pos] = rng.choice(NOISE)
        elif op < 0.7:
            chars.insert(pos, rng.choice(NOISE + "  "))
        elif pos < len(chars):
            del chars[pos]
    out = "".join(chars)
    if rng.random() < 0.05:
        out = "  " + out + " "  # stray spaces: both libraries must strip / collapse alike
    return out


def generate(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    predictions, references = [], []
    for i in range(n):
        vocab = RU if i % 2 == 0 else EN
        reference = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 12)))
        predictions.append(corrupt(reference, rng))
        references.append(reference)
    return predictions, references


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def jiwer_per_sample(output: Any) -> list[float]:
    """Per-sentence error rates from jiwer's own alignments (same definition as ours)."""
    rates = []
    for ref, chunks in zip(output.references, output.alignments, strict=True):
        edits = sum(
            (c.hyp_end_idx - c.hyp_start_idx)
            if c.type == "insert"
            else (c.ref_end_idx - c.ref_start_idx)
            for c in chunks
            if c.type != "equal"
        )
        rates.append(edits / len(ref) if ref else float(edits))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    predictions, references = generate(args.pairs, args.seed)
    print(f"{args.pairs} pairs (half Russian, half English), jiwer {jiwer_version()}")
    failed = False
    figures = []
    cases = (
        ("CER", cer, jiwer.cer, jiwer.process_characters),
        ("WER", wer, jiwer.wer, jiwer.process_words),
    )
    for label, ours, theirs, process in cases:
        our_time, result = best_time(lambda o=ours: o(predictions, references), args.repeat)
        their_time, value = best_time(lambda t=theirs: t(references, predictions), args.repeat)
        their_per_sample = jiwer_per_sample(process(references, predictions))
        worst = max(abs(a - b) for a, b in zip(result.per_sample, their_per_sample, strict=True))
        same = abs(result.value - value) <= 1e-9 and worst <= 1e-9
        failed |= not same
        ratio = their_time / our_time
        figures.append(
            figure(
                f"{label} speed-up over jiwer", round(ratio, 2), "x", f">= {GOAL:g}x", ratio >= GOAL
            )
        )
        figures.append(figure(f"{label} values equal jiwer's", int(same), "bool", "1", same))
        print(
            f"{label}: ours {result.value:.12f} in {our_time:.3f} s | jiwer {value:.12f} in "
            f"{their_time:.3f} s | speed-up {ratio:.1f}x (goal >= {GOAL:.0f}x: "
            f"{'met' if ratio >= GOAL else 'NOT met'}) | max per-sample difference "
            f"{worst:.2e} | {'same' if same else 'DIFFERENT'}"
        )
    emit("text_metrics", figures)
    if failed:
        print("FAIL: values differ from jiwer", file=sys.stderr)
        return 1
    return 0


def jiwer_version() -> str:
    from importlib.metadata import version

    return version("jiwer")


if __name__ == "__main__":
    sys.exit(main())
