"""Model-graded correctness for open-ended answers (``judge``): rules first, then LLM judges.

``judge(predictions, references, judges=[...], rubric={...}, question=[...])`` returns a
:class:`MetricResult` whose value is the share of answers judged correct; per sample it
keeps the verdict, the rationale and who decided (a rule or the judges), and with several
judges their Cohen's kappa. Judges are OpenAI-compatible endpoints called with the official
``openai`` client; judgments are cached on disk (``JudgmentCache``).
"""

from ._result import MetricResult, metric
from .cache import CACHE_ENV, JudgmentCache, default_cache_path, judgment_key
from .client import UNPARSED, JudgeClient, JudgeError, JudgeSpec, parse_verdict
from .judge import DEFAULT_RUBRIC, judge
from .rules import CORRECT, INCORRECT, references_of, rule_verdict

METRICS = (judge,)

__all__ = [
    "CACHE_ENV",
    "CORRECT",
    "DEFAULT_RUBRIC",
    "INCORRECT",
    "METRICS",
    "UNPARSED",
    "JudgeClient",
    "JudgeError",
    "JudgeSpec",
    "JudgmentCache",
    "MetricResult",
    "default_cache_path",
    "judge",
    "judgment_key",
    "metric",
    "parse_verdict",
    "references_of",
    "rule_verdict",
]
