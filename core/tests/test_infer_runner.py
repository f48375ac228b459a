"""The inference runner against a real HTTP server on loopback (aiohttp.web, scripted per test).

What is checked is the runner's contract: every sample answered once, with the API key sent,
the request body as ``request_body`` describes it, usage and latency recorded; HTTP errors
and timeouts retried then recorded against the sample; a server that does not answer
restarted; a cancelled run (Ctrl-C) leaves no task behind and a file a re-run completes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image
from vlmhyperbench.execution.answers import read_answers
from vlmhyperbench.execution.chat_request import InferSettings, request_body, request_bytes
from vlmhyperbench.execution.inference_runner import InferenceRunner

KEY = "test-key"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _settings(**overrides: Any) -> InferSettings:
    values: dict[str, Any] = {
        "model_id": "m",
        "system_prompt": "Отвечай кратко.",
        "template": "{question}",
        "collection": {},
        "generation": {"max_tokens": 8, "temperature": 0},
        "response_format": None,
        "json_schema": None,
        "output_kind": "text",
        "concurrency": 4,
        "per_run": 2,
        "max_attempts": 4,
        "timeout_s": 5.0,
    }
    return InferSettings(**{**values, **overrides})


def _samples(folder: Path, count: int) -> list[dict[str, Any]]:
    pages = []
    for i, color in enumerate(("white", "black")):
        page = folder / f"page{i}.png"
        Image.new("RGB", (40, 20), color).save(page)
        pages.append(str(page))
    return [
        {
            "id": f"s{i}",
            "images": [pages[i % 2]],
            "prompt_vars": {"question": f'Поле {i} "в кавычках"'},
            "doc_class": "passport",
            "question_type": "Фамилия",
        }
        for i in range(count)
    ]


def _completion(text: str) -> web.Response:
    return web.json_response(
        {
            "choices": [{"message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            "latency_s": 0.001,
        }
    )


class _Server:
    """A real HTTP server on 127.0.0.1; ``restart`` starts it (again) on a fresh port."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.api_key: str | None = KEY
        self.base_url = ""
        self.restarts: list[str] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handler)
        app.router.add_get("/v1/metrics", self._metrics)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.json_response({"resources": {"process_rss_bytes": 2**20 * 64}})

    async def restart(self, reason: str) -> None:
        self.restarts.append(reason)
        await self.stop()
        await self.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _run(
    handler: Handler, samples: list[dict[str, Any]], answers: Path, **settings: Any
) -> tuple[list[Any], _Server, list[tuple[int, int, int]]]:
    server = _Server(handler)
    await server.start()
    progress: list[tuple[int, int, int]] = []
    runner = InferenceRunner(
        samples,
        answers,
        _settings(**settings),
        server,
        on_progress=lambda *p: progress.append(p),
    )
    try:
        records = await runner.run()
    finally:
        await server.stop()
    return records, server, progress


def test_request_bytes_are_the_json_of_request_body(tmp_path: Path) -> None:
    sample = _samples(tmp_path, 1)[0]
    sample["images"] = [*sample["images"], str(tmp_path / "page1.png"), sample["images"][0]]
    settings = _settings(response_format={"type": "json_object"})
    assert request_bytes(sample, settings) == json.dumps(request_body(sample, settings)).encode()


def test_every_sample_is_answered_once_with_key_usage_and_latency(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 40)
    settings = _settings()
    expected = {s["id"]: request_body(s, settings) for s in samples}
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        body = await request.json()
        question = body["messages"][1]["content"][0]["text"]
        sample_id = next(k for k, v in expected.items() if v == body)  # byte for byte equal
        seen.append(sample_id)
        return _completion(f"ответ на {question}")

    records, _, progress = asyncio.run(_run(answer, samples, tmp_path / "answers.jsonl"))
    assert sorted(seen) == sorted(s["id"] for s in samples)
    assert [r.id for r in records] == [s["id"] for s in samples]
    first = records[0]
    assert first.answer == 'ответ на Поле 0 "в кавычках"'
    assert (first.parse_status, first.attempts) == ("text", 1)
    assert (first.prompt_tokens, first.completion_tokens, first.server_latency_s) == (3, 1, 0.001)
    assert first.latency_s is not None and first.latency_s > 0
    assert progress[0] == (0, 40, 0) and progress[-1] == (40, 40, 0)
    on_disk = read_answers(tmp_path / "answers.jsonl")
    assert len(on_disk) == 40

    # A re-run sends nothing: every sample is answered.
    seen.clear()
    asyncio.run(_run(answer, samples, tmp_path / "answers.jsonl"))
    assert seen == []


def test_http_errors_are_retried_then_recorded_against_the_sample(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 6)
    calls: dict[str, int] = {}

    async def answer(request: web.Request) -> web.Response:
        text = (await request.json())["messages"][1]["content"][0]["text"]
        calls[text] = calls.get(text, 0) + 1
        if text.startswith("Поле 3 "):
            return web.Response(status=500, text="boom for this one")
        return _completion("ok")

    records, server, progress = asyncio.run(_run(answer, samples, tmp_path / "answers.jsonl"))
    failed = [r for r in records if r.parse_status == "failed"]
    assert [r.id for r in failed] == ["s3"]
    assert failed[0].error == "HTTP 500: boom for this one"
    assert failed[0].attempts == 2  # per_run
    assert calls['Поле 3 "в кавычках"'] == 2
    assert server.restarts == []
    assert progress[-1] == (6, 6, 1)


def test_an_answer_that_is_not_a_completion_fails_the_sample_only(tmp_path: Path) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=200, text="<html>proxy says hi</html>")

    records, server, _ = asyncio.run(
        _run(answer, _samples(tmp_path, 2), tmp_path / "a.jsonl", per_run=1)
    )
    assert all(r.parse_status == "failed" for r in records)
    assert records[0].error is not None and "not a chat completion" in records[0].error
    assert "proxy says hi" in records[0].error
    assert server.restarts == []


def test_a_request_longer_than_the_timeout_fails_with_the_timeout(tmp_path: Path) -> None:
    async def answer(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return _completion("late")

    records, _, _ = asyncio.run(
        _run(answer, _samples(tmp_path, 1), tmp_path / "a.jsonl", timeout_s=0.3, per_run=1)
    )
    assert records[0].parse_status == "failed"
    assert records[0].error == "timed out after 0.3 s"


def test_a_server_that_does_not_answer_is_restarted_and_the_run_completes(tmp_path: Path) -> None:
    async def answer(request: web.Request) -> web.Response:
        return _completion("ok")

    async def scenario() -> tuple[list[Any], _Server]:
        server = _Server(answer)
        await server.start()
        await server.stop()  # its port now refuses connections: the server is down
        runner = InferenceRunner(_samples(tmp_path, 5), tmp_path / "a.jsonl", _settings(), server)
        try:
            return await runner.run(), server
        finally:
            await server.stop()

    records, server = asyncio.run(scenario())
    assert len(server.restarts) == 1  # concurrent failures restart it once
    assert server.restarts[0].startswith("server unreachable: ")
    assert all(r.parse_status == "text" and r.attempts == 1 for r in records)


def test_a_restart_that_fails_records_the_samples_failed(tmp_path: Path) -> None:
    class Dead(_Server):
        async def restart(self, reason: str) -> None:
            self.restarts.append(reason)
            raise RuntimeError("cannot start")

    async def never(request: web.Request) -> web.Response:
        raise AssertionError("the server is down")

    async def scenario() -> list[Any]:
        server = Dead(never)
        await server.start()
        await server.stop()
        runner = InferenceRunner(_samples(tmp_path, 3), tmp_path / "a.jsonl", _settings(), server)
        return await runner.run()

    records = asyncio.run(scenario())
    assert [r.parse_status for r in records] == ["failed"] * 3
    assert all(r.error and r.error.startswith("server unreachable: ") for r in records)


def test_a_missing_image_fails_its_sample_with_the_path(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 2)
    samples[1]["images"] = [str(tmp_path / "missing.png")]

    async def answer(request: web.Request) -> web.Response:
        return _completion("ok")

    records, _, _ = asyncio.run(_run(answer, samples, tmp_path / "a.jsonl"))
    assert records[0].parse_status == "text"
    assert records[1].parse_status == "failed"
    assert records[1].error is not None and "missing.png" in records[1].error
    assert records[1].attempts == 4  # max_attempts: a re-run cannot fix the sample


def _client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks still pending in this loop, but the test's own and the test server's."""
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.done()
        and "aiohttp/web" not in t.get_coro().cr_code.co_filename
    }


def test_a_cancelled_run_leaves_no_task_and_a_rerun_completes_it(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 30)
    answers = tmp_path / "answers.jsonl"
    asked: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        asked.append((await request.json())["messages"][1]["content"][0]["text"])
        await asyncio.sleep(0.05)
        return _completion("ok")

    async def cancelled_run() -> set[asyncio.Task[Any]]:
        server = _Server(slow)
        await server.start()
        runner = InferenceRunner(samples, answers, _settings(concurrency=3), server)
        task = asyncio.create_task(runner.run())
        while len(asked) < 8:
            await asyncio.sleep(0.01)
        assert len(_client_tasks()) > 3  # the run, its workers, the resource sampler
        task.cancel()  # what asyncio.run does on Ctrl-C
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        left = _client_tasks()
        await server.stop()
        return left

    assert asyncio.run(cancelled_run()) == set()
    first = read_answers(answers)
    assert 0 < len(first) < 30  # what was answered before the cancel is on disk

    records, _, _ = asyncio.run(_run(slow, samples, answers))
    assert [r.id for r in records] == [s["id"] for s in samples]
    assert all(r.parse_status == "text" and r.attempts == 1 for r in records)
    lines = answers.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30  # each sample once


def test_reasoning_is_kept_apart_and_an_unclosed_think_block_fails_for_any_backend(
    tmp_path: Path,
) -> None:
    """Our own wrapper's answers are read like an endpoint's: reasoning_content and think
    blocks apart from the scored answer, usage with reasoning tokens, finish_reason, the
    response's model; an unclosed block is a failed answer that is not asked again."""
    from vlmhyperbench.registry.models import ReasoningSpec

    calls: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        question = body["messages"][-1]["content"][0]["text"]
        calls.append(question)
        text = "<think>the page is blank" if "Поле 1 " in question else "<think>label</think>Иванов"
        return web.json_response(
            {
                "model": "served-name",
                "system_fingerprint": "fp_1",
                "choices": [
                    {
                        "message": {"content": text, "reasoning_content": "from the field"},
                        "finish_reason": "length" if "Поле 1 " in question else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 30,
                    "completion_tokens": 9,
                    "completion_tokens_details": {"reasoning_tokens": 5},
                },
            }
        )

    records, _, _ = asyncio.run(
        _run(
            answer,
            _samples(tmp_path, 2),
            tmp_path / "a.jsonl",
            reasoning=ReasoningSpec(think_tags=True),
        )
    )
    ok, cut = sorted(records, key=lambda r: r.id)
    assert ok.answer == "Иванов" and ok.reasoning == "from the field\nlabel"
    assert (ok.reasoning_tokens, ok.completion_tokens, ok.finish_reason) == (5, 9, "stop")
    assert (ok.response_model, ok.system_fingerprint) == ("served-name", "fp_1")
    assert cut.parse_status == "failed" and "unclosed <think>" in (cut.error or "")
    assert cut.finish_reason == "length" and cut.attempts == 4  # not asked again
    assert len(calls) == 2
