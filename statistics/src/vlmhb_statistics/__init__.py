"""Statistics for benchmark results: how sure is a score, and is B really better than A.

- Confidence intervals by a seeded, vectorised bootstrap over samples: :func:`bootstrap_ci`
  for metrics averaged over samples, :func:`bootstrap_ratio_ci` for corpus-level ratios
  (CER, WER: resample samples, recompute ``sum(num) / sum(den)``).
- Paired comparisons of two runs on the same samples: :func:`paired_bootstrap_delta`,
  :func:`paired_permutation_test`, :func:`mcnemar`, with :func:`verdict`, and the one-call
  :func:`compare_means` / :func:`compare_ratios` / :func:`compare_binary`; :func:`holm` and
  :func:`holm_adjust` for many comparisons at once.
- :func:`answer_agreement` between two runs' answers (backend parity); :func:`cohen_kappa`
  between two raters' labels (LLM judges).

Depends on numpy only, so the core and any user can install it alone.
"""

from ._inputs import Pairing, pair_by_id
from .agreement import Agreement, answer_agreement, cohen_kappa, normalize_answer
from .bootstrap import (
    ConfidenceInterval,
    bootstrap_ci,
    bootstrap_ratio_ci,
    paired_bootstrap_delta,
    paired_bootstrap_ratio_delta,
)
from .significance import (
    McNemarTest,
    PermutationTest,
    holm,
    mcnemar,
    paired_permutation_ratio_test,
    paired_permutation_test,
)
from .verdicts import (
    Comparison,
    Verdict,
    compare_binary,
    compare_means,
    compare_ratios,
    holm_adjust,
    verdict,
)

__all__ = [
    "Agreement",
    "Comparison",
    "ConfidenceInterval",
    "McNemarTest",
    "Pairing",
    "PermutationTest",
    "Verdict",
    "answer_agreement",
    "bootstrap_ci",
    "bootstrap_ratio_ci",
    "cohen_kappa",
    "compare_binary",
    "compare_means",
    "compare_ratios",
    "holm",
    "holm_adjust",
    "mcnemar",
    "normalize_answer",
    "pair_by_id",
    "paired_bootstrap_delta",
    "paired_bootstrap_ratio_delta",
    "paired_permutation_ratio_test",
    "paired_permutation_test",
    "verdict",
]
