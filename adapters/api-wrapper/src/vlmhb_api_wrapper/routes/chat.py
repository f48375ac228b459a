"""The data plane: OpenAI-compatible ``POST /v1/chat/completions``.

The body is read raw and parsed here (not by FastAPI), so a large one is parsed in a worker
thread and the latency clock starts from a parsed body; images are decoded off the loop too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from vlmhb_api_wrapper.backend import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    ImagePart,
    TextPart,
)
from vlmhb_api_wrapper.dependencies import Server
from vlmhb_api_wrapper.errors import error_body
from vlmhb_api_wrapper.images import load_image
from vlmhb_api_wrapper.schemas import ChatCompletionRequest
from vlmhb_api_wrapper.server_state import ServerState
from vlmhb_api_wrapper.settings import ServerSettings

log = logging.getLogger("vlmhb_api_wrapper")

#: Server-side seconds of one answer, also in its body as ``latency_s``.
LATENCY_HEADER = "X-Latency-S"
#: Request bodies up to this size are parsed on the event loop (well under a millisecond).
INLINE_PARSE_BYTES = 256 * 1024

router = APIRouter()


def _parse_chat(raw: bytes) -> ChatCompletionRequest:
    """JSON parsing and validation, run in a worker thread: a 60 MB body must not stall the loop."""
    try:
        return ChatCompletionRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None


async def _messages(body: ChatCompletionRequest, settings: ServerSettings) -> list[ChatMessage]:
    """Images are decoded and verified in a worker thread: a large one must not stall the loop."""
    messages = []
    for i, message in enumerate(body.messages):
        if isinstance(message.content, str):
            parts: list[TextPart | ImagePart] = [TextPart(text=message.content)]
        else:
            parts = []
            for j, part in enumerate(message.content):
                if part.type == "text":
                    parts.append(TextPart(text=part.text))
                else:
                    parts.append(
                        await asyncio.to_thread(
                            load_image,
                            part.image_url.url,
                            data_root=settings.data_root,
                            max_bytes=settings.max_image_bytes,
                            max_pixels=settings.max_image_pixels,
                            where=f"messages[{i}].content[{j}].image_url",
                        )
                    )
        messages.append(ChatMessage(role=message.role, content=parts))
    return messages


# The body is taken raw (see the module docstring); the schema shown in /openapi.json is an
# object, as it always was.
@router.post(
    "/v1/chat/completions",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "OpenAI chat completions request (see schemas.py)",
        }
    },
)
async def chat_completions(raw: Request, server: Server) -> JSONResponse:
    data = await raw.body()
    # a small body parses in microseconds, less than a thread hop; a large one (tens of
    # MB of base64 or text) takes long enough to stall every other request: off the loop
    body = (
        _parse_chat(data)
        if len(data) <= INLINE_PARSE_BYTES
        else await asyncio.to_thread(_parse_chat, data)
    )
    started = time.perf_counter()  # from a parsed body, as before: the server's own work
    async with server.model_slot.serving(body.model) as model_id:
        return await _complete(server, body, started, model_id)


async def _complete(
    server: ServerState, body: ChatCompletionRequest, started: float, model_id: str
) -> JSONResponse:
    """One generation through the dispatcher, answered in OpenAI's shape (or its error shape)."""
    request = GenerationRequest(
        request_id=f"chatcmpl-{uuid.uuid4().hex}",
        messages=await _messages(body, server.settings),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        response_format=(
            body.response_format.model_dump(exclude_none=True) if body.response_format else None
        ),
    )
    try:
        result = await server.dispatcher.submit(request)
    except Exception as exc:
        latency = time.perf_counter() - started
        server.stats.record(latency, 0, 0, ok=False)
        message = server.masker.mask(str(exc) or type(exc).__name__)
        log.error("generate() failed for %s: %s", request.request_id, message)
        return JSONResponse(error_body(500, f"backend failed: {message}"), status_code=500)
    latency = time.perf_counter() - started
    server.stats.record(
        latency, result.prompt_tokens, result.completion_tokens, ok=result.error is None
    )
    if result.error is not None:
        if result.error_kind == "request":  # the client's to fix: 400, never retried
            status, message = 400, f"invalid request: {result.error}"
        else:
            status, message = 500, f"backend failed on this request: {result.error}"
        return JSONResponse(
            error_body(status, server.masker.mask(message)),
            status_code=status,
            headers={LATENCY_HEADER: f"{latency:.6f}"},
        )
    return JSONResponse(
        _answer(request.request_id, model_id, result, latency),
        headers={LATENCY_HEADER: f"{latency:.6f}"},
    )


def _answer(
    request_id: str, model_id: str, result: GenerationResult, latency: float
) -> dict[str, Any]:
    """OpenAI's ``chat.completion`` body, plus ``latency_s`` and ``cached``."""
    message: dict[str, Any] = {"role": "assistant", "content": result.text}
    if result.reasoning is not None:
        message["reasoning_content"] = result.reasoning
    usage: dict[str, Any] = {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }
    if result.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": result.reasoning_tokens}
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_id,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": result.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage,
        "latency_s": latency,
        "cached": result.cached,
    }
