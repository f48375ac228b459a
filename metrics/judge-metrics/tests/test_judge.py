"""The judge metric against a judge on loopback (``RuleJudgeServer``, a named test double)."""

from __future__ import annotations

import pytest
from judge_double import KEY, RuleJudgeServer
from vlmhb_judge_metrics import JudgeError, judge, parse_verdict
from vlmhb_statistics import cohen_kappa

QUESTIONS = ["Фамилия?", "Дата выдачи?", "Кем выдан?", "Город?", "Имя?"]
REFERENCES = ["Иванов", "12.03.2020", "ОВД Москвы", "Москва", "Пётр"]
#: rule-correct, rule-empty, judge (contains it), judge (wrong), judge (contains it)
PREDICTIONS = ["иванов.", "", "Выдан: ОВД Москвы", "Санкт-Петербург", "Имя: Пётр"]


def _judge(server: RuleJudgeServer, name: str = "judge-a", **extra) -> dict:
    return {
        "name": name,
        "base_url": server.base_url,
        "model": server.served,
        "snapshot": "2026-11",
        "api_key_env": "JUDGE_KEY",
        "headers": {"X-Purpose": "grading"},
        **extra,
    }


def test_rules_decide_first_and_the_judge_only_the_rest(judge_server) -> None:
    result = judge(PREDICTIONS, REFERENCES, judges=[_judge(judge_server)], question=QUESTIONS)
    text = result.details["per_sample_text"]
    assert text["verdict"] == ["correct", "incorrect", "correct", "incorrect", "correct"]
    assert text["decided_by"] == ["rule", "rule", "judge", "judge", "judge"]
    assert text["rationale"][0].startswith("rule:") and "ОВД Москвы" in text["rationale"][2]
    assert result.per_sample == [1.0, 0.0, 1.0, 0.0, 1.0] and result.value == pytest.approx(0.6)
    sent = judge_server.requests
    assert len(sent) == 3  # only the undecided answers went to the judge
    for request in sent:
        assert request["headers"]["Authorization"] == f"Bearer {KEY}"
        assert request["headers"]["X-Purpose"] == "grading"
        assert request["body"]["model"] == "judge-large" and request["body"]["temperature"] == 0
    assert "Дата выдачи?" not in str(sent) and "Кем выдан?" in str(sent)
    report = result.details["report"]
    assert report["decided_by_rule"] == 2 and report["judge_calls"] == 3
    assert result.params["judges"][0]["snapshot"] == "2026-11"
    assert KEY not in str(result.to_dict())


def test_judgments_are_cached_and_a_new_snapshot_asks_again(judge_server) -> None:
    first = judge(PREDICTIONS, REFERENCES, judges=[_judge(judge_server)], question=QUESTIONS)
    again = judge(PREDICTIONS, REFERENCES, judges=[_judge(judge_server)], question=QUESTIONS)
    assert again.per_sample == first.per_sample and len(judge_server.requests) == 3
    assert again.details["report"]["cached_judgments"] == 3
    assert again.details["report"]["judge_calls"] == 0
    judge(
        PREDICTIONS,
        REFERENCES,
        judges=[_judge(judge_server, snapshot="2026-12")],
        question=QUESTIONS,
    )
    assert len(judge_server.requests) == 6


def test_judge_when_always_asks_about_every_answer(judge_server) -> None:
    result = judge(
        PREDICTIONS,
        REFERENCES,
        judges=[_judge(judge_server)],
        question=QUESTIONS,
        judge_when="always",
    )
    assert len(judge_server.requests) == 5
    assert result.details["per_sample_text"]["decided_by"] == ["judge"] * 5


def test_two_judges_report_their_kappa_and_each_verdict(judge_server) -> None:
    with RuleJudgeServer(mode="contrarian", served="judge-small") as other:
        result = judge(
            PREDICTIONS * 2,
            REFERENCES * 2,
            judges=[_judge(judge_server), _judge(other, name="judge-b")],
            question=QUESTIONS * 2,
        )
    text = result.details["per_sample_text"]
    a, b = text["verdict@judge-a"], text["verdict@judge-b"]
    asked = [i for i, who in enumerate(text["decided_by"]) if who != "rule"]
    agreement = result.details["report"]["agreement"]["judge-a|judge-b"]
    assert agreement["samples"] == len(asked) == 6
    assert agreement["cohen_kappa"] == pytest.approx(
        cohen_kappa([a[i] for i in asked], [b[i] for i in asked])
    )
    assert agreement["agreement"] == 0.0  # the contrarian disagrees on every judged sample
    # a tie (1 vs 1) goes to the first judge listed
    assert [text["verdict"][i] for i in asked] == [a[i] for i in asked]


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"verdict": "correct", "rationale": "same date"}', "correct"),
        ('```json\n{"verdict": "Incorrect", "rationale": "x"}\n```', "incorrect"),
        ("<think>the correct one?</think> Incorrect: wrong city.", "incorrect"),
        ("I cannot tell.", "unparsed"),
        (None, "unparsed"),
    ],
)
def test_verdicts_are_read_from_json_or_prose(reply, verdict) -> None:
    assert parse_verdict(reply)[0] == verdict


def test_an_unparsed_reply_is_counted_not_guessed() -> None:
    with RuleJudgeServer(mode="garbage") as server:
        result = judge(PREDICTIONS, REFERENCES, judges=[_judge(server)], question=QUESTIONS)
    assert result.details["report"]["unparsed"] == 3
    assert result.details["per_sample_text"]["verdict"][2] == "unparsed"
    assert result.per_sample[2] == 0.0


def test_a_refused_key_or_a_missing_one_names_the_judge(judge_server, monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-wrong-judge-key")
    with pytest.raises(JudgeError, match=r"judge 'judge-a' at .* failed \(HTTP 401\)") as caught:
        judge(PREDICTIONS, REFERENCES, judges=[_judge(judge_server)], question=QUESTIONS)
    assert "sk-wrong-judge-key" not in str(caught.value)
    monkeypatch.delenv("JUDGE_KEY")
    with pytest.raises(JudgeError, match=r"JUDGE_KEY .* is not set"):
        judge(PREDICTIONS, REFERENCES, judges=[_judge(judge_server)], question=QUESTIONS)


def test_bad_params_are_named() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        judge(["a", "b"], ["a"], judges=[{"name": "x", "base_url": "http://x", "model": "m"}])
    with pytest.raises(ValueError, match="expected name, base_url, model"):
        judge(["a"], ["b"], judges=[{"name": "x", "url": "http://x"}])
    with pytest.raises(ValueError, match="no judges"):
        judge(["a"], ["b"], judges=[])
