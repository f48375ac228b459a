"""Versioned text metrics for VLM answers.

Every metric is a plain function ``metric(predictions, references, **params)`` returning a
:class:`MetricResult`; ``metric.name`` / ``metric.version`` give its registry identity and
results record ``name@version`` (``result.key``). A metric that reproduces other tools'
definitions lists them in ``metric.variants``; ``metric(..., compat=v)`` computes one, and
``result.column`` names it (``anls@lmms-eval``).
"""

from ._normalize import Normalization, normalize
from ._result import MetricResult, metric
from .anls import anls
from .edit_rates import cer, wer
from .exact_match import exact_match
from .ocrbench import ocrbench_accuracy, ocrbench_normalize
from .relaxed_accuracy import relaxed_accuracy
from .sacre import bleu, chrf
from .vqa_accuracy import vqa_accuracy, vqa_normalize

METRICS = (
    cer,
    wer,
    anls,
    exact_match,
    bleu,
    chrf,
    vqa_accuracy,
    relaxed_accuracy,
    ocrbench_accuracy,
)

__all__ = [
    "METRICS",
    "MetricResult",
    "Normalization",
    "anls",
    "bleu",
    "cer",
    "chrf",
    "exact_match",
    "metric",
    "normalize",
    "ocrbench_accuracy",
    "ocrbench_normalize",
    "relaxed_accuracy",
    "vqa_accuracy",
    "vqa_normalize",
    "wer",
]
