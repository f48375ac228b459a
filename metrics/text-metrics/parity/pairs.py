"""Generated (prediction, accepted answers) pairs for the parity tests, seeded.

Each answer is a base answer put through 0-3 perturbations drawn from the kinds that split
the tools' definitions: case, punctuation (``,`` ``?`` ``.`` ``-`` quotes), numbers with
``%``, thousands separators and units, articles, contractions with and without their
apostrophe, fullwidth forms, Cyrillic (``ё``), whitespace, single-character edits (which put
ANLS on and around its threshold) and empty answers. A sample has 1-10 accepted answers,
mostly variants of one base answer and sometimes another.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BASES = (
    "10 July",
    "Paris",
    "1,000",
    "12%",
    "3.5 kg",
    "1,000-2,000",
    "$1,234.50",
    "don't",
    "what's",
    "the cat",
    "an apple",
    "two",
    "a,b",
    "STOP",
    "yes",
    "no",
    "0",
    "x^{2}",
    "Иванов Пётр",
    "ул. Ленина, 5",
    "ёлка",
    "hello world",
    "Dr. Smith's office",
    "25 %",
    "12.5",
    "7",
    "1000",
    "-3",
)


def _fullwidth(text: str) -> str:
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


def _edit(rng: random.Random, text: str) -> str:
    chars = list(text)
    k = rng.randint(0, len(chars))
    op = rng.randint(0, 2)
    if op == 0 and chars:
        del chars[min(k, len(chars) - 1)]
    elif op == 1:
        chars.insert(k, rng.choice("aeоx1 "))
    elif chars:
        chars[min(k, len(chars) - 1)] = rng.choice("bzё7")
    return "".join(chars)


def _perturbations(rng: random.Random) -> list[Callable[[str], str]]:
    return [
        str.lower,
        str.upper,
        str.swapcase,
        str.capitalize,
        lambda t: t + rng.choice([".", "?", "!", ",", " .", "'s"]),
        lambda t: rng.choice(['"', "(", "-", "'"]) + t + rng.choice(['"', ")", "-", "'"]),
        lambda t: t.replace(",", ""),
        lambda t: t.replace(",", " "),
        lambda t: t.replace("'", ""),
        lambda t: t.replace("%", " %") if "%" in t else t + "%",
        lambda t: t.replace(" ", "") if rng.random() < 0.5 else t.replace(" kg", "kg"),
        lambda t: rng.choice(["the ", "a ", "an ", "The "]) + t,
        lambda t: t.removeprefix("the ").removeprefix("an "),
        lambda t: t.replace("two", "2").replace("0", "zero"),
        _fullwidth,
        lambda t: t.replace("ё", "е").replace("Ё", "Е"),
        lambda t: (
            rng.choice(["  ", " ", "\n", "\t"]) + t.replace(" ", "  ") + rng.choice(["", " "])
        ),
        lambda t: _edit(rng, t),
        lambda t: _edit(rng, _edit(rng, t)),
        lambda t: "" if rng.random() < 0.5 else "   ",
    ]


def perturbed(rng: random.Random, base: str) -> str:
    steps = _perturbations(rng)
    text = base
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        text = rng.choice(steps)(text)
    return text


def generated_pairs(count: int, seed: int, min_answers: int = 1) -> list[tuple[str, list[str]]]:
    """``count`` (prediction, accepted answers) pairs with ``min_answers``..10 answers each."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        base = rng.choice(BASES)
        answers = [
            perturbed(rng, base if rng.random() < 0.85 else rng.choice(BASES))
            for _ in range(rng.randint(min_answers, 10) if rng.random() < 0.6 else min_answers)
        ]
        prediction = perturbed(rng, base if rng.random() < 0.8 else rng.choice(BASES))
        pairs.append((prediction, answers))
    return pairs
