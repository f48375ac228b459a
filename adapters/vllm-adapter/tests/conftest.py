"""Shared helpers, and the one test double: ``FakeAsyncEngine`` stands in for the GPU engine.

vLLM needs CUDA, so on machines without a GPU the engine object is replaced by
``FakeAsyncEngine``, which records what the backend submits and answers in vLLM's
``RequestOutput`` shape. Everything else under test (config, mapping, the backend's
batching and result assembly, Pillow decoding) is the real code.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image
from vlmhb_api_wrapper.backend import ChatMessage, GenerationRequest, ImagePart, TextPart
from vlmhb_vllm_adapter import LoadedEngine, SamplingApi


def png(colour: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def user(*parts: str | bytes) -> ChatMessage:
    content = [TextPart(text=p) if isinstance(p, str) else ImagePart(data=p) for p in parts]
    return ChatMessage(role="user", content=content)


def request(request_id: str, *messages: ChatMessage, **kwargs: Any) -> GenerationRequest:
    return GenerationRequest(request_id=request_id, messages=list(messages), **kwargs)


@dataclass
class RecordedSamplingParams:
    """What ``SamplingParams(**kwargs)`` was called with (vLLM's class needs vLLM)."""

    kwargs: dict[str, Any]

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@dataclass
class RecordedConstraint:
    """What ``StructuredOutputsParams`` / ``GuidedDecodingParams`` was called with."""

    kwargs: dict[str, Any]

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@dataclass
class FakeCompletion:
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass
class FakeRequestOutput:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[FakeCompletion]
    finished: bool


@dataclass
class FakeAsyncEngine:
    """Test double standing in for ``vllm.AsyncLLMEngine`` (which needs a GPU).

    Each ``generate`` stream waits until ``expect_concurrent`` requests are inside the
    engine at the same time before answering, so a backend that submitted requests one
    after another would never get past the first: that is how the tests prove whole
    batches reach the engine together. Answers echo the prompt so tests can check mapping.
    """

    expect_concurrent: int = 1
    answer_tokens: int = 3
    finish_reason: str = "stop"
    fail_on: set[str] = field(default_factory=set)
    #: request-id prefix -> what vLLM raises for a request it refuses as sent
    refuse: dict[str, BaseException] = field(default_factory=dict)
    submitted: list[tuple[dict[str, Any], Any, str]] = field(default_factory=list)
    tokenization: list[dict[str, Any] | None] = field(default_factory=list)
    max_in_flight: int = 0
    shut_down: bool = False
    _in_flight: int = 0
    _all_in: asyncio.Event | None = None

    async def generate(
        self,
        prompt: dict[str, Any],
        sampling_params: Any,
        request_id: str,
        *,
        tokenization_kwargs: dict[str, Any] | None = None,
    ):
        for prefix, error in self.refuse.items():
            if request_id.startswith(prefix):  # vLLM validates before it queues anything
                raise error
        if self._all_in is None:
            self._all_in = asyncio.Event()
        self.submitted.append((prompt, sampling_params, request_id))
        self.tokenization.append(tokenization_kwargs)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        if self._in_flight >= self.expect_concurrent:
            self._all_in.set()
        try:
            await asyncio.wait_for(self._all_in.wait(), timeout=5)
            if any(request_id.startswith(bad) for bad in self.fail_on):
                raise RuntimeError("CUDA out of memory (simulated)")
            prompt_ids = list(range(len(prompt["prompt"].split())))
            words = [f"w{i}" for i in range(self.answer_tokens)]
            for step in range(1, self.answer_tokens + 1):  # streamed, like vLLM
                await asyncio.sleep(0)
                yield FakeRequestOutput(
                    request_id=request_id,
                    prompt_token_ids=prompt_ids,
                    outputs=[
                        FakeCompletion(
                            text=" ".join(words[:step]),
                            token_ids=list(range(step)),
                            finish_reason=self.finish_reason
                            if step == self.answer_tokens
                            else None,
                        )
                    ],
                    finished=step == self.answer_tokens,
                )
        finally:
            self._in_flight -= 1

    def shutdown(self) -> None:
        self.shut_down = True


def render_for_tests(messages: list[dict[str, Any]]) -> str:
    """A chat template in the Qwen2-VL style, written out so the tests can read prompts."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            body = content
        else:
            body = "".join(
                "<|vision_start|><|image_pad|><|vision_end|>" if p["type"] == "image" else p["text"]
                for p in content
            )
        out.append(f"<|im_start|>{message['role']}\n{body}<|im_end|>\n")
    return "".join(out) + "<|im_start|>assistant\n"


@pytest.fixture
def fake_sampling_api() -> SamplingApi:
    return SamplingApi(RecordedSamplingParams, RecordedConstraint, "structured_outputs")


@pytest.fixture
def make_loader(fake_sampling_api: SamplingApi):
    """A loader giving the backend a FakeAsyncEngine; returns (loader, engines created)."""

    def factory(**engine_kwargs: Any):
        created: list[FakeAsyncEngine] = []

        def loader(config):
            engine = FakeAsyncEngine(**engine_kwargs)
            created.append(engine)
            return LoadedEngine(engine, render_for_tests, fake_sampling_api, {"vllm": "fake"})

        return loader, created

    return factory
