"""BLEU and chrF via sacrebleu (the reference implementation), on a 0..1 scale.

Predictions are the hypotheses and references the references (the original v0.1 passed
them the other way round, which changes BLEU's brevity penalty and n-gram precisions).
The corpus value is sacrebleu's corpus score; the per-sample values are sentence scores
(BLEU with ``effective_order``, as sacrebleu recommends for single sentences). Scores are
divided by 100 so that every metric of the platform shares one scale; ``details`` carries
the sacrebleu signature and the 0..100 score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

from ._inputs import accepted_at, check_pairs, text_at
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric


def _prepare(
    name: str, predictions: Sequence[Any], references: Sequence[Any], params: dict[str, Any]
) -> tuple[list[str], list[list[str]], dict[str, bool]]:
    check_pairs(predictions, references)
    options = options_from(name, params)
    norm = normalizer(options)
    hyps = [norm(text_at(h, "predictions", i)) for i, h in enumerate(predictions)]
    refs = [[norm(a) for a in accepted_at(r, i)] for i, r in enumerate(references)]
    return hyps, refs, options.as_dict()


def _streams(refs: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu wants reference streams; samples with fewer answers are padded with None."""
    width = max((len(r) for r in refs), default=1)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(width)]


def _score(
    name: str,
    version: str,
    corpus_scorer: Any,
    sentence_scorer: Any,
    hyps: list[str],
    refs: list[list[str]],
    normalization: dict[str, bool],
    params: dict[str, object],
) -> MetricResult:
    params = {**params, **normalization}
    if not hyps:
        return MetricResult(name, version, 0.0, [], {"normalization": normalization}, params)
    corpus = corpus_scorer.corpus_score(hyps, _streams(refs))
    per_sample = [
        sentence_scorer.sentence_score(h, r).score / 100.0 for h, r in zip(hyps, refs, strict=True)
    ]
    return MetricResult(
        name=name,
        version=version,
        value=corpus.score / 100.0,
        per_sample=per_sample,
        details={
            "score_100": corpus.score,
            "signature": str(corpus_scorer.get_signature()),
            "normalization": normalization,
        },
        params=params,
    )


@metric("bleu", "1")
def bleu(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    tokenize: str = "13a",
    max_ngram_order: int = 4,
    **params: bool,
) -> MetricResult:
    """Corpus BLEU (sacrebleu, ``tokenize`` as in sacrebleu) / 100; per-sample sentence BLEU."""
    hyps, refs, normalization = _prepare("bleu", predictions, references, params)
    corpus = BLEU(tokenize=tokenize, max_ngram_order=max_ngram_order)
    sentence = BLEU(tokenize=tokenize, max_ngram_order=max_ngram_order, effective_order=True)
    params = {"tokenize": tokenize, "max_ngram_order": max_ngram_order}
    return _score("bleu", "1", corpus, sentence, hyps, refs, normalization, params)


@metric("chrf", "1")
def chrf(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    **params: bool,
) -> MetricResult:
    """Corpus chrF (sacrebleu; ``word_order=2`` gives chrF++) / 100; per-sample sentence chrF."""
    hyps, refs, normalization = _prepare("chrf", predictions, references, params)
    scorer = CHRF(char_order=char_order, word_order=word_order, beta=beta)
    params = {"char_order": char_order, "word_order": word_order, "beta": beta}
    return _score("chrf", "1", scorer, scorer, hyps, refs, normalization, params)
