"""Versioned metrics for structured (JSON) model answers.

Predictions are the models' raw answers (strings, possibly fenced, truncated or not JSON at
all); references are dicts of fields (or their JSON text). Every metric is a plain function
returning a :class:`MetricResult`; results record ``name@version`` (``result.key``).
"""

from ._normalize import Normalization, normalize
from ._result import MetricResult, metric
from .anls_star import anls_star, anls_star_score
from .fidelity import structural_fidelity
from .fields import (
    field_anls,
    field_cer,
    field_exact_match,
    field_f1,
    field_omission_rate,
    field_precision,
    field_recall,
    flatten,
)
from .parsing import ParsedOutput, parse_output

METRICS = (
    structural_fidelity,
    field_exact_match,
    field_anls,
    field_cer,
    field_precision,
    field_recall,
    field_f1,
    field_omission_rate,
    anls_star,
)

__all__ = [
    "METRICS",
    "MetricResult",
    "Normalization",
    "ParsedOutput",
    "anls_star",
    "anls_star_score",
    "field_anls",
    "field_cer",
    "field_exact_match",
    "field_f1",
    "field_omission_rate",
    "field_precision",
    "field_recall",
    "flatten",
    "metric",
    "normalize",
    "parse_output",
    "structural_fidelity",
]
