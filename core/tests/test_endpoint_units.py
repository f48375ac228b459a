"""OpenAI-compatible endpoints without a server: the entry's rules, identity, completion
reading (reasoning apart from the answer), Retry-After, the adaptive limiter and the budget.

The runs against real servers (the API wrapper, a fault-injecting proxy, vLLM) are in
``tests/test_endpoints.py``.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest
from pydantic import ValidationError
from registry_factory import write_registry
from test_execution_units import _entries
from vlmhb_dependency_injector import EnvironmentManager
from vlmhyperbench.execution.endpoint import EndpointError, EndpointServer, read_key
from vlmhyperbench.execution.generation import NotACompletion, read_completion, split_think
from vlmhyperbench.execution.identity import PackageResolver
from vlmhyperbench.execution.planner import BenchmarkPlanner
from vlmhyperbench.execution.ratelimit import AdaptiveLimiter, CostBudget, Ticket, retry_after_s
from vlmhyperbench.registry import RegistryManager
from vlmhyperbench.registry.models import EndpointSpec, ModelEntry, Price, ReasoningSpec

HOSTED = {
    "framework": "openai-compatible",
    "endpoint": {
        "base_url": "https://api.example.org/v1/",
        "model": "vision-large",
        "api_key_env": "EXAMPLE_API_KEY",
        "snapshot": "2026-11-01",
    },
    "generation": {"max_tokens": 64, "temperature": 0},
    "price": {"input_per_mtok": 2.5, "output_per_mtok": 10.0},
}


def _with_hosted(root: Path, **changes: dict) -> dict:
    entries = _entries(root)
    entries["frameworks"]["openai-compatible"] = {"kind": "openai-compatible"}
    hosted = copy.deepcopy(HOSTED)
    for key, value in changes.items():
        hosted[key] = {**hosted.get(key, {}), **value}
    entries["models"]["hosted"] = hosted
    entries["experiments"]["default"]["matrix"]["models"] = ["tesseract", "hosted"]
    return entries


def _hosted_ids(root: Path, entries: dict) -> tuple[str, str]:
    """(serve, infer) ids of the hosted model's run."""
    registry = RegistryManager(write_registry(root, entries), mode="prod").load()
    manager = EnvironmentManager(root / "envs", base_dir=registry.repo_root)
    plan = BenchmarkPlanner(registry, PackageResolver(registry, manager, "prod")).plan("default")
    infer = next(s for s in plan.infers if s.run.model.name == "hosted")
    return infer.serve.id, infer.id


# --- the entry ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"api_key": "sk-123"}, "a key is never written in a registry file"),
        ({"headers": {"Authorization": "Bearer sk"}}, "carries a credential"),
        ({"base_url": "ftp://x/v1"}, "expected an http:// or https:// URL"),
        ({"base_url": "https://user:pw@x/v1"}, "no credentials in the URL"),
        ({"api_key_env": "NOT-A-NAME"}, "api_key_env"),
    ],
)
def test_an_endpoint_refuses_keys_and_bad_urls(change: dict, expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        EndpointSpec.model_validate({**HOSTED["endpoint"], **change})


def test_an_endpoint_model_cannot_also_name_an_adapter() -> None:
    with pytest.raises(ValidationError, match="adapter cannot be set"):
        ModelEntry.model_validate({**HOSTED, "name": "h", "adapter": "vlmhb-ocr-adapter"})
    assert ModelEntry.model_validate({**HOSTED, "name": "h"}).hosted


def test_validation_names_a_framework_that_does_not_fit(tmp_path: Path) -> None:
    entries = _with_hosted(tmp_path)
    entries["models"]["hosted"]["framework"] = "ocr"
    _, problems = RegistryManager(write_registry(tmp_path, entries), mode="prod").collect()
    assert any(
        "an endpoint needs a framework of kind openai-compatible" in str(p) for p in problems
    )


# --- identity -------------------------------------------------------------------------------
def test_snapshot_url_model_and_generation_are_the_identity_not_key_limits_or_price(
    tmp_path: Path,
) -> None:
    serve, infer = _hosted_ids(tmp_path / "a", _with_hosted(tmp_path / "a"))
    for i, (changes, same) in enumerate(
        [
            ({"endpoint": {"snapshot": "2026-12-01"}}, False),
            ({"endpoint": {"base_url": "https://other.example.org/v1"}}, False),
            ({"endpoint": {"model": "vision-small"}}, False),
            ({"generation": {"temperature": 0.7}}, False),
            ({"endpoint": {"api_key_env": "OTHER_KEY"}}, True),
            ({"endpoint": {"headers": {"X-Team": "b"}, "timeout_s": 5}}, True),
            ({"price": {"input_per_mtok": 1.0}}, True),
            ({"rate_limits": {"rpm": 60, "max_concurrency": 2}}, True),
        ]
    ):
        root = tmp_path / f"c{i}"
        other = _hosted_ids(root, _with_hosted(root, **changes))
        assert (other[1] == infer) is same, changes
        assert (other[0] == serve) is same, changes


# --- the key --------------------------------------------------------------------------------
def test_the_key_comes_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = EndpointSpec.model_validate(HOSTED["endpoint"])
    monkeypatch.delenv("EXAMPLE_API_KEY", raising=False)
    with pytest.raises(EndpointError, match=r"EXAMPLE_API_KEY .* is not set"):
        read_key("hosted", spec)
    monkeypatch.setenv("EXAMPLE_API_KEY", " sk-env \n")
    assert read_key("hosted", spec) == "sk-env"
    secret = tmp_path / "key.txt"
    file_spec = spec.model_copy(update={"api_key_env": None, "api_key_file": "key.txt"})
    with pytest.raises(EndpointError, match=r"cannot read endpoint\.api_key_file"):
        read_key("hosted", file_spec, tmp_path)
    secret.write_text("sk-file\n")
    assert read_key("hosted", file_spec, tmp_path) == "sk-file"


# --- reading a completion -------------------------------------------------------------------
THINK = ReasoningSpec(think_tags=True)


@pytest.mark.parametrize(
    ("text", "answer", "reasoning", "failed"),
    [
        ("plain", "plain", None, False),
        ("<think>a, then b</think>\nИванов", "Иванов", "a, then b", False),
        ("the template opened it</think> 42", "42", "the template opened it", False),
        ("<think>still thinking about", "", "still thinking about", True),
    ],
)
def test_think_blocks_are_kept_apart(text, answer, reasoning, failed) -> None:
    got = split_think(text, THINK)
    assert got[0] == answer and got[1] == reasoning and (got[2] is not None) is failed


def test_a_completion_is_read_the_same_way_for_every_backend() -> None:
    payload = {
        "model": "vision-large-2026-11-01",
        "system_fingerprint": "fp_42",
        "choices": [
            {
                "message": {"content": "Иванов", "reasoning_content": "the label says so"},
                "finish_reason": "length",
            }
        ],
        "usage": {
            "prompt_tokens": 812,
            "completion_tokens": 40,
            "completion_tokens_details": {"reasoning_tokens": 31},
        },
    }
    gen = read_completion(payload, ReasoningSpec())
    assert (gen.text, gen.reasoning, gen.failed) == ("Иванов", "the label says so", None)
    assert (gen.response_model, gen.system_fingerprint) == ("vision-large-2026-11-01", "fp_42")
    assert (gen.prompt_tokens, gen.completion_tokens, gen.reasoning_tokens) == (812, 40, 31)
    assert gen.finish_reason == "length"
    unclosed = {"choices": [{"message": {"content": "<think>hmm"}, "finish_reason": "length"}]}
    assert read_completion(unclosed, THINK).failed is not None
    assert read_completion(unclosed, ReasoningSpec()).text == "<think>hmm"  # not asked to split
    with pytest.raises(NotACompletion):
        read_completion({"error": "nope"}, THINK)


def test_price_counts_reasoning_as_output() -> None:
    price = Price(input_per_mtok=2.5, output_per_mtok=10.0)
    assert price.cost(1_000_000, 100_000) == pytest.approx(3.5)
    assert price.cost(None, None) == 0.0


# --- limits ---------------------------------------------------------------------------------
def test_retry_after_as_seconds_or_a_date() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s("Sun, 06 Dec 2026 10:00:10 GMT", now=1796551200.0) == pytest.approx(10.0)
    assert retry_after_s("soon") is None and retry_after_s(None) is None
    assert retry_after_s("86400") == 300.0  # a run does not sleep for a day


def test_the_limiter_halves_once_per_wave_and_grows_back_when_calm() -> None:
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(8)
        tickets = [await limiter.acquire() for _ in range(8)]
        for ticket in tickets[:4]:  # a wave of 429s on requests already in flight
            await limiter.release(ticket, throttled=True)
        after_wave = limiter.limit
        for ticket in tickets[4:]:
            await limiter.release(ticket)
        limits = [after_wave]
        for _ in range(40):
            ticket = await limiter.acquire()
            await limiter.release(ticket)
        limits.append(limiter.limit)
        return limits

    after_wave, recovered = asyncio.run(scenario())
    assert after_wave == 4  # one cut for the whole wave, not 8 -> 4 -> 2 -> 1 -> 1
    assert recovered == 8


def test_retry_after_holds_every_request_not_only_the_refused_one() -> None:
    async def scenario() -> bool:
        limiter = AdaptiveLimiter(4)
        ticket = await limiter.acquire()
        await limiter.release(ticket, throttled=True, retry_after=30)
        try:  # a slot is free (limit 2, none in flight), yet nobody may start for 30 s
            await asyncio.wait_for(limiter.acquire(), timeout=0.2)
        except TimeoutError:
            return True
        return False

    assert asyncio.run(scenario())


def test_tokens_per_minute_are_paced_from_a_bucket_corrected_by_usage() -> None:
    limiter = AdaptiveLimiter(4, tpm=6000)  # 100 tokens a second, a minute's worth at start
    now = 1000.0
    limiter._level_at = now
    assert limiter._tokens_ready_at(now, 5000) == now  # within the minute's budget
    assert limiter._tokens_ready_at(now, 1500) == pytest.approx(now + 5.0)  # 500 owed: 5 s
    assert limiter._tokens_ready_at(now + 5.0, 100) == pytest.approx(now + 6.0)
    # a request estimated at 1500 tokens that used 300 gives 1200 back
    limiter._level = 0.0
    asyncio.run(limiter.release(Ticket(started=now, tokens=1500), tokens_used=300))
    assert limiter._level == pytest.approx(1200)


def test_the_budget_refuses_a_request_that_could_pass_it() -> None:
    budget = CostBudget(0.01)
    assert budget.reserve(0.004) and budget.reserve(0.004)
    assert not budget.reserve(0.004)
    assert budget.exhausted is not None and "--max-cost 0.01 USD reached" in budget.exhausted
    budget.settle(0.004, 0.001)
    assert not budget.reserve(0.0001)  # once spent, the run stays stopped: no flapping


def test_the_pre_flight_check_reports_an_unreachable_endpoint_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = ModelEntry.model_validate(
        {
            **HOSTED,
            "name": "hosted",
            "endpoint": {**HOSTED["endpoint"], "base_url": "http://127.0.0.1:9/v1"},
        }
    )
    monkeypatch.setenv("EXAMPLE_API_KEY", "sk-not-used")

    class Stage:
        model = entry

    server = EndpointServer(Stage(), None)  # type: ignore[arg-type]
    with pytest.raises(EndpointError) as caught:
        server.start()
    message = str(caught.value)
    assert "\n" not in message and "is unreachable" in message and "127.0.0.1:9" in message
    assert "sk-not-used" not in message


# --- judges ---------------------------------------------------------------------------------
def _with_judge(root: Path, snapshot: str = "j-1", template: str = "{question}|{answer}") -> dict:
    entries = _with_hosted(root)
    entries["models"]["hosted"]["endpoint"]["snapshot"] = "2026-11-01"
    judge = copy.deepcopy(HOSTED)
    judge["endpoint"] = {**judge["endpoint"], "snapshot": snapshot, "api_key_env": "JUDGE_KEY"}
    entries["models"]["judge-a"] = judge
    entries["prompts"]["rubric"] = {"template": template, "system_prompt": "grade"}
    entries["metrics"]["judged"] = {
        "package": "vlmhb-text-metrics",
        "entry_point": "judge",
        "version": "1",
        "applies_to": ["text"],
        "params": {"judges": ["judge-a"], "rubric": "rubric"},
    }
    entries["tasks"]["vqa"]["default_metrics"] = ["judged"]
    return entries


def _judged_ids(root: Path, entries: dict) -> tuple[str, str, dict]:
    registry = RegistryManager(write_registry(root, entries), mode="prod").load()
    manager = EnvironmentManager(root / "envs", base_dir=registry.repo_root)
    plan = BenchmarkPlanner(registry, PackageResolver(registry, manager, "prod")).plan("default")
    infer = next(s for s in plan.infers if s.run.model.name == "hosted")
    evaluation = next(e for e in plan.evals if e.infer is infer)
    return infer.id, evaluation.id, evaluation.run.metrics[0].params


def test_a_new_judge_snapshot_or_rubric_rescores_and_never_reinfers(tmp_path: Path) -> None:
    infer, evaluation, params = _judged_ids(tmp_path / "a", _with_judge(tmp_path / "a"))
    judge = params["judges"][0]
    assert judge["base_url"] == "https://api.example.org/v1" and judge["snapshot"] == "j-1"
    assert judge["api_key_env"] == "JUDGE_KEY" and "key" not in judge
    assert params["rubric"] == {
        "name": "rubric",
        "template": "{question}|{answer}",
        "system_prompt": "grade",
    }
    for i, changes in enumerate([{"snapshot": "j-2"}, {"template": "{answer}?"}]):
        root = tmp_path / f"c{i}"
        other = _judged_ids(root, _with_judge(root, **changes))
        assert other[0] == infer and other[1] != evaluation, changes


def test_a_judge_without_an_endpoint_is_a_plan_error(tmp_path: Path) -> None:
    from vlmhyperbench.execution.planner import PlanError

    entries = _with_judge(tmp_path)
    entries["metrics"]["judged"]["params"]["judges"] = ["tesseract"]
    with pytest.raises(PlanError, match="judge 'tesseract' has no endpoint"):
        _judged_ids(tmp_path, entries)
