"""A judge metric's registry names turned into what the eval stage needs, at planning time.

A judge metric (``vlmhb-judge-metrics``) names its judges as model entries and its rubric as
a prompt entry (``params: {judges: [...], rubric: ...}``). The eval stage runs apart from the
registry, so the planner writes each judge's endpoint (URL, served model, snapshot, where the
key is read from, generation) and the rubric's text into the metric's params. The eval id
hashes the params, so a new judge, snapshot or rubric re-scores, and never re-infers (the
infer id does not see metrics). The key itself is never resolved here: only its source.
"""

from __future__ import annotations

from typing import Any

from ..registry.models import MetricEntry, ModelEntry, PromptEntry


class JudgeConfigError(ValueError):
    """A judge metric names something that cannot judge (the message names metric and entry)."""


def judge_endpoint(metric: str, model: ModelEntry) -> dict[str, Any]:
    """What the judge metric is given of one judge model entry (no key, only its source)."""
    if model.endpoint is None:
        raise JudgeConfigError(
            f"metric {metric!r}: judge {model.name!r} has no endpoint; a judge is a model "
            "entry of framework openai-compatible (endpoint: base_url, model, api key source)"
        )
    spec = model.endpoint
    return {
        "name": model.name,
        "base_url": spec.base_url,
        "model": spec.model,
        "snapshot": spec.snapshot,
        "api_key_env": spec.api_key_env,
        "api_key_file": spec.api_key_file,
        "headers": dict(spec.headers),
        "timeout_s": spec.timeout_s,
        "generation": model.generation.model_dump(exclude_none=True),
        "max_concurrency": model.rate_limits.max_concurrency or model.concurrency,
    }


def rubric_of(metric: str, prompt: PromptEntry) -> dict[str, Any]:
    if prompt.template is None:
        raise JudgeConfigError(
            f"metric {metric!r}: rubric {prompt.name!r} has no template; expected a prompt "
            "entry whose template uses {question}, {reference} and {answer}"
        )
    return {"name": prompt.name, "template": prompt.template, "system_prompt": prompt.system_prompt}


def resolve_judges(metric: MetricEntry, registry: Any) -> MetricEntry:
    """The metric with ``judges`` / ``rubric`` names replaced by their content (else as is)."""
    params = metric.params
    if "judges" not in params:
        return metric
    names = params["judges"]
    if isinstance(names, str):
        names = [names]
    if not names or not all(isinstance(n, str) for n in names):
        raise JudgeConfigError(
            f"metric {metric.name!r}: params.judges: expected a list of model entry names"
        )
    rubric = params.get("rubric")
    if not isinstance(rubric, str):
        raise JudgeConfigError(
            f"metric {metric.name!r}: params.rubric: expected the name of a prompt entry"
        )
    try:
        judges = [judge_endpoint(metric.name, registry.get("models", n)) for n in names]
        prompt = registry.get("prompts", rubric)
    except KeyError as exc:
        raise JudgeConfigError(
            f"metric {metric.name!r}: {exc.args[0] if exc.args else exc} (params.judges / rubric)"
        ) from None
    resolved = {**params, "judges": judges, "rubric": rubric_of(metric.name, prompt)}
    return metric.model_copy(update={"params": resolved})
