"""CER and WER, corpus-level as jiwer (>= 3) defines them: total edits over total reference
length, with jiwer's default tokenisation, computed with rapidfuzz's C++ Levenshtein.

jiwer's defaults, reproduced exactly so that numbers agree to the last bit:
- CER: strip both ends, then every character (spaces included) is a unit.
- WER: runs of two or more whitespace characters become one space, strip both ends, split
  on " ". (A lone tab or newline between words is therefore *not* a word boundary, as in
  jiwer; pass ``collapse_whitespace=True`` to split on any whitespace.)
- When the whole corpus has no reference units, the value is the number of inserted units
  (jiwer 4's definition); the same rule gives a per-sample score for an empty reference.

Ours (``compat=None``) is that definition plus this package's normalisation options (all off
by default, so by default the two agree to the last bit). ``compat="jiwer"`` pins jiwer's
default transforms and refuses the normalisation options: it is written separately, straight
from jiwer's documented transforms (``cer_default``: Strip, ReduceToListOfListOfChars;
``wer_default``: RemoveMultipleSpaces, Strip, ReduceToListOfListOfWords) and a unit-cost
Levenshtein over the unit lists, one sample at a time, so that the fast path above is checked
against a second reading of the definition (and against jiwer itself in the tests).

Several accepted answers (version 2; a DocVQA-style list per sample): a sample is scored
against the accepted answer closest to its prediction, the one with the lowest per-sample
error rate (ties: the first listed), as ANLS takes its best answer; the corpus value adds up
that answer's edits and reference units. ``details["chosen_reference"]`` says which answer
each sample was scored against. Version 1 refused such data with a ``ValueError``; on one
reference per sample the two versions agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

from rapidfuzz.distance import Levenshtein

from ._inputs import accepted_at, check_pairs, text_at
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric

_MULTI_SPACE = re.compile(r"\s\s+")
_OTHER_WHITESPACE = re.compile(r"[^\S ]")
# Marks text boundaries inside one joined corpus string, as a token of its own. A rare,
# printable, non-space character (U+241E SYMBOL FOR RECORD SEPARATOR), so that
# ``str.isprintable`` can tell in one C pass that a corpus holds no whitespace but " ".
_BOUNDARY = "\u241e"
_MAX_VOCABULARY = 0x110000  # one code point per distinct word


def _chars(refs: list[str], hyps: list[str]) -> tuple[list[str], list[str]]:
    return list(map(str.strip, refs)), list(map(str.strip, hyps))


def _tokens(texts: list[str]) -> list[str] | None:
    """Every word of every text, in order, with a boundary token between texts.

    Equal to jiwer's RemoveMultipleSpaces + Strip + split(" ") per text, done in a few C
    calls on the joined corpus. When the corpus holds no whitespace but " ", that is exactly
    ``str.split()``; otherwise runs are collapsed first (a lone tab stays inside a word, as
    in jiwer). ``re``'s ``\\s``, ``str.strip`` and ``str.split`` share one whitespace set,
    and " " is the only whitespace character that ``str.isprintable`` accepts.
    """
    joined = f" {_BOUNDARY} ".join(texts)
    if joined.count(_BOUNDARY) != len(texts) - 1:
        return None  # a text holds the boundary character itself
    if joined.isprintable() or _OTHER_WHITESPACE.search(joined) is None:
        return joined.split()
    joined = f" {_BOUNDARY} ".join(map(str.strip, texts))
    joined = _MULTI_SPACE.sub(" ", joined).strip(" ")
    return joined.split(" ") if joined else []


def _words(refs: list[str], hyps: list[str]) -> tuple[list[Any], list[Any]]:
    """Each text as a string of word codes, one code point per distinct reference word.

    Levenshtein over such strings equals Levenshtein over word lists: a prediction word that
    occurs in no reference can never match, so all such words share one code (they are only
    ever compared with reference words). rapidfuzz then runs on plain strings.
    """
    if not refs:
        return [], []
    ref_tokens, hyp_tokens = _tokens(refs), _tokens(hyps)
    vocabulary = set(ref_tokens or ())
    vocabulary.discard(_BOUNDARY)
    if ref_tokens is None or hyp_tokens is None or len(vocabulary) + 2 > _MAX_VOCABULARY:
        # a text holds the boundary character itself, or too many distinct words: per text
        return [_split(t) for t in refs], [_split(t) for t in hyps]
    codes = dict(zip(vocabulary, map(chr, range(2, len(vocabulary) + 2)), strict=True))
    boundary, unknown = "\x00", "\x01"
    codes[_BOUNDARY] = boundary
    return (
        "".join(map(codes.__getitem__, ref_tokens)).split(boundary),
        "".join(map(codes.get, hyp_tokens, repeat(unknown))).split(boundary),
    )


def _split(text: str) -> list[str]:
    text = _MULTI_SPACE.sub(" ", text).strip()
    return text.split(" ") if text else []


def _check_texts(values: Sequence[Any], role: str) -> list[str]:
    if set(map(type, values)) <= {str}:
        return list(values)
    return [str(text_at(v, role, i)) for i, v in enumerate(values)]


def _closest(
    edits: list[int], lengths: list[int], owners: list[int], samples: int
) -> tuple[list[int], list[int], list[int]]:
    """Per sample, the accepted answer with the lowest error rate (ties: the first listed):
    its edits, its reference units, and its index in the sample's list."""
    best: list[tuple[float, int, int, int]] = [(float("inf"), 0, 0, 0)] * samples
    position = [0] * samples
    for e, n, i in zip(edits, lengths, owners, strict=True):
        rate = e / n if n else float(e)
        if rate < best[i][0]:
            best[i] = (rate, e, n, position[i])
        position[i] += 1
    return [b[1] for b in best], [b[2] for b in best], [b[3] for b in best]


def _jiwer_units(name: str) -> Callable[[list[str], list[str]], tuple[list[Any], list[Any]]]:
    """jiwer's default transforms, one text at a time: characters after Strip (CER), or
    words after RemoveMultipleSpaces (``\\s\\s+`` -> " "), Strip and split on " " (WER)."""

    def chars(text: str) -> list[str]:
        return list(text.strip())

    def words(text: str) -> list[str]:
        text = re.sub(r"\s\s+", " ", text).strip()
        return text.split(" ") if text else []

    unit = chars if name == "cer" else words

    def units(refs: list[str], hyps: list[str]) -> tuple[list[Any], list[Any]]:
        return [unit(t) for t in refs], [unit(t) for t in hyps]

    return units


def _error_rate(
    func: Any,
    units: Callable[[list[str], list[str]], tuple[list[Any], list[Any]]],
    predictions: Sequence[Any],
    references: Sequence[Any],
    compat: str | None,
    params: dict[str, Any],
) -> MetricResult:
    """Whole-corpus passes (``map`` over C functions) rather than a Python loop per sample,
    which is what makes this many times faster than jiwer (see bench/bench_text_metrics.py)."""
    name, version = func.name, func.version
    check_pairs(predictions, references)
    if compat == "jiwer":
        if params:
            raise ValueError(
                f"{name}: compat='jiwer' is jiwer's default transforms; remove "
                f"{', '.join(sorted(params))} (normalisation options apply to compat=None only)"
            )
        units = _jiwer_units(name)
    elif compat is not None:
        raise ValueError(f"{name}: unknown compat {compat!r}; expected None (ours) or 'jiwer'")
    options = options_from(name, params)
    hyps = _check_texts(predictions, "predictions")
    owners: list[int] | None = None
    if set(map(type, references)) <= {str}:
        refs = list(references)
    else:  # several accepted answers somewhere: one (prediction, answer) pair per answer
        accepted = [accepted_at(r, i) for i, r in enumerate(references)]
        refs = [a for answers in accepted for a in answers]
        owners = [i for i, answers in enumerate(accepted) for _ in answers]
        hyps = [hyps[i] for i in owners]
    if not options.is_identity:
        norm = normalizer(options)
        hyps, refs = list(map(norm, hyps)), list(map(norm, refs))
    ref_units, hyp_units = units(refs, hyps)
    edits = list(map(Levenshtein.distance, ref_units, hyp_units))
    lengths = list(map(len, ref_units))
    chosen: dict[str, list[int]] = {}
    if owners is not None:
        edits, lengths, chosen["chosen_reference"] = _closest(
            edits, lengths, owners, len(references)
        )
    total_edits, total_units = sum(edits), sum(lengths)
    per_sample = [e / n if n else float(e) for e, n in zip(edits, lengths, strict=True)]
    value = total_edits / total_units if total_units else float(total_edits)
    return MetricResult(
        name=name,
        version=version,
        value=value,
        per_sample=per_sample,
        details={
            "edits": total_edits,
            "reference_units": total_units,
            # per-sample numerators and denominators of the corpus ratio, so that a bootstrap
            # can resample samples and recompute the ratio instead of averaging per-sample rates
            "ratio": {"numerators": edits, "denominators": lengths},
            "normalization": options.as_dict(),
            **chosen,
        },
        params={"compat": compat, **options.as_dict()},
    )


@metric("cer", "2", variants=("jiwer",))
def cer(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    compat: str | None = None,
    **params: bool,
) -> MetricResult:
    """Character error rate: total character edits / total reference characters.

    Per sample: that sample's edits / its reference length; with several accepted answers,
    those of the closest one (module docstring). Accepts the normalisation
    options of :class:`Normalization` (all off by default, as jiwer); ``compat="jiwer"``
    pins jiwer's default transforms (module docstring).
    """
    return _error_rate(cer, _chars, predictions, references, compat, params)


@metric("wer", "2", variants=("jiwer",))
def wer(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    compat: str | None = None,
    **params: bool,
) -> MetricResult:
    """Word error rate: total word edits / total reference words (jiwer tokenisation);
    ``compat="jiwer"`` pins jiwer's default transforms (module docstring)."""
    return _error_rate(wer, _words, predictions, references, compat, params)
