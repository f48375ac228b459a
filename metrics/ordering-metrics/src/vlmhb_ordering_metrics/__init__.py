"""Versioned page-order metrics for VLM answers.

Every metric is a plain function ``metric(predictions, references)`` returning a
:class:`MetricResult` with one value per sample; a prediction is a list of page ids or the
model's text (``[3,1,2]``, ``{"order": [3,1,2]}``), and an answer that is not a permutation
of the reference's pages scores as the worst order and is counted.
"""

from ._result import MetricResult, metric
from .metrics import adjacent_pairs, exact_order, kendall_tau, position_accuracy, spearman_rho
from .orders import Malformed, read_order

METRICS = (kendall_tau, spearman_rho, exact_order, position_accuracy, adjacent_pairs)

__all__ = [
    "METRICS",
    "Malformed",
    "MetricResult",
    "adjacent_pairs",
    "exact_order",
    "kendall_tau",
    "metric",
    "position_accuracy",
    "read_order",
    "spearman_rho",
]
