"""The ``judge`` metric: the share of answers judged correct, rules first, then LLM judges.

Per sample, a rule decides when it can (``rules.py``); otherwise each judge is asked with the
rubric (question, references, answer) and the sample's verdict is the judges' majority (a tie
goes to the first judge listed). Every verdict and its rationale is returned per sample
(``details["per_sample_text"]``, shown in the eval's ``per_sample.csv`` and the dashboard's
samples view), and with several judges their Cohen's kappa on the samples they judged
(``details["report"]``): a score from judges who do not agree with each other is not one to
trust.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from vlmhb_statistics import cohen_kappa

from ._result import MetricResult, metric
from .cache import JudgmentCache, default_cache_path, judgment_key
from .client import UNPARSED, JudgeClient, JudgeSpec
from .rules import CORRECT, references_of, rule_verdict

DEFAULT_RUBRIC = {
    "name": "default",
    "system_prompt": "You grade answers to questions about documents. Reply with JSON only.",
    "template": (
        "Question: {question}\nReference answer(s): {reference}\nCandidate answer: {answer}\n\n"
        "Is the candidate answer correct, that is, does it state the same thing as a "
        'reference? Reply as {{"verdict": "correct" | "incorrect", "rationale": "<one '
        'sentence>"}}.'
    ),
}


def _messages(rubric: dict[str, Any], case: dict[str, Any]) -> list[dict[str, Any]]:
    text = str(rubric["template"]).format(
        question=case["question"], reference=" | ".join(case["references"]), answer=case["answer"]
    )
    system = rubric.get("system_prompt")
    return [
        *([{"role": "system", "content": system}] if system else []),
        {"role": "user", "content": text},
    ]


def _majority(verdicts: list[str]) -> str:
    counts = Counter(verdicts)
    best = max(counts.values())
    return next(v for v in verdicts if counts[v] == best)  # a tie: the first judge's


@metric("judge", "1")
def judge(
    predictions: Sequence[str | None],
    references: Sequence[Any],
    *,
    judges: Sequence[dict[str, Any]],
    rubric: dict[str, Any] | None = None,
    question: Sequence[str | None] | None = None,
    judge_when: Literal["undecided", "always"] = "undecided",
    cache: str | None = None,
) -> MetricResult:
    """Share of answers judged correct.

    ``judges``: endpoints as the core resolves model entries (``JudgeSpec`` fields; keys are
    read from their ``api_key_env`` / ``api_key_file``). ``rubric``: ``{template,
    system_prompt}`` with ``{question}``, ``{reference}``, ``{answer}``. ``question``: the
    questions (the eval stage passes them). ``judge_when="always"`` asks the judges about
    every answer (rules only record what they would have said). ``cache``: a SQLite path
    (default ``$VLMHB_JUDGE_CACHE`` or ``~/.cache/vlmhb/judgments.sqlite``).
    """
    if len(predictions) != len(references):
        raise ValueError(f"judge: {len(predictions)} predictions but {len(references)} references")
    if judge_when not in ("undecided", "always"):
        raise ValueError(f"judge: judge_when={judge_when!r}; expected 'undecided' or 'always'")
    specs = [JudgeSpec.from_params(dict(j)) for j in judges]
    if not specs:
        raise ValueError("judge: no judges; expected params.judges (model entry names)")
    rubric = dict(rubric or DEFAULT_RUBRIC)
    rubric_identity = {"template": rubric["template"], "system_prompt": rubric.get("system_prompt")}
    questions = list(question) if question is not None else [""] * len(predictions)
    cases = [
        {"question": q or "", "references": references_of(r), "answer": p or ""}
        for q, r, p in zip(questions, references, predictions, strict=True)
    ]
    ruled = [rule_verdict(p, c["references"]) for p, c in zip(predictions, cases, strict=True)]
    asked = [i for i, r in enumerate(ruled) if r is None or judge_when == "always"]
    store = JudgmentCache(Path(cache) if cache else default_cache_path())
    by_judge: dict[str, dict[int, tuple[str, str]]] = {s.name: {} for s in specs}
    calls = hits = 0
    try:
        for spec in specs:
            keys = {i: judgment_key(spec.identity, rubric_identity, cases[i]) for i in asked}
            todo = []
            for i in asked:
                found = store.get(keys[i])
                if found is not None:
                    by_judge[spec.name][i] = found
                    hits += 1
                else:
                    todo.append(i)
            if not todo:
                continue
            client = JudgeClient(spec)
            with ThreadPoolExecutor(max_workers=max(1, spec.max_concurrency)) as pool:
                answers = pool.map(lambda i, c=client: c.ask(_messages(rubric, cases[i])), todo)
                for i, (verdict, rationale) in zip(todo, answers, strict=True):
                    by_judge[spec.name][i] = (verdict, rationale)
                    store.put(keys[i], verdict, rationale)  # only answers, never errors
                    calls += 1
    finally:
        store.close()
    verdicts, rationales, decided_by = [], [], []
    for i, rule in enumerate(ruled):
        if i in by_judge[specs[0].name]:
            said = [by_judge[s.name][i] for s in specs]
            verdict = _majority([v for v, _ in said])
            rationale = next(r for v, r in said if v == verdict)
            who = "judge" if len(specs) == 1 else f"judges ({'/'.join(v for v, _ in said)})"
        else:
            assert rule is not None
            (verdict, rationale), who = rule, "rule"
        verdicts.append(verdict)
        rationales.append(rationale)
        decided_by.append(who)
    scores = [1.0 if v == CORRECT else 0.0 for v in verdicts]
    report: dict[str, Any] = {
        "judges": [{"name": s.name, **s.identity} for s in specs],
        "rubric": rubric.get("name"),
        "decided_by_rule": sum(1 for d in decided_by if d == "rule"),
        "judged": len(asked),
        "judge_calls": calls,
        "cached_judgments": hits,
        "unparsed": sum(1 for v in verdicts if v == UNPARSED),
    }
    if len(specs) > 1 and asked:
        report["agreement"] = {
            f"{a.name}|{b.name}": {
                "cohen_kappa": cohen_kappa(
                    [by_judge[a.name][i][0] for i in asked], [by_judge[b.name][i][0] for i in asked]
                ),
                "agreement": sum(by_judge[a.name][i][0] == by_judge[b.name][i][0] for i in asked)
                / len(asked),
                "samples": len(asked),
            }
            for a, b in combinations(specs, 2)
        }
        report["accuracy_by_judge"] = {
            s.name: sum(by_judge[s.name][i][0] == CORRECT for i in asked) / len(asked)
            for s in specs
        }
    per_sample_text: dict[str, list[str]] = {
        "verdict": verdicts,
        "rationale": rationales,
        "decided_by": decided_by,
    }
    if len(specs) > 1:
        for s in specs:
            per_sample_text[f"verdict@{s.name}"] = [
                by_judge[s.name][i][0] if i in by_judge[s.name] else "" for i in range(len(cases))
            ]
    return MetricResult(
        name="judge",
        version="1",
        value=sum(scores) / len(scores) if scores else 0.0,
        per_sample=scores,
        details={"per_sample_text": per_sample_text, "report": report},
        params={
            "judges": [{"name": s.name, **s.identity} for s in specs],
            "rubric": rubric_identity,
            "judge_when": judge_when,
        },
    )


judge.sample_fields = ("question",)  # type: ignore[attr-defined]
