"""The FastAPI application: control plane, data plane, monitoring, all async.

``create_app`` takes a backend instance, so the same app serves a packaged backend (found by
entry point in the CLI) or one a test or benchmark builds itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from PIL import Image
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vlmhb_api_wrapper.backend import (
    Backend,
    ChatMessage,
    GenerationRequest,
    ImagePart,
    TextPart,
)
from vlmhb_api_wrapper.dispatcher import Dispatcher
from vlmhb_api_wrapper.errors import ApiError, error_body
from vlmhb_api_wrapper.images import load_image
from vlmhb_api_wrapper.manager import ModelManager
from vlmhb_api_wrapper.masking import SecretMasker, install_secret_masking, secrets_from_env
from vlmhb_api_wrapper.monitor import RequestStats, ResourceMonitor, prometheus_text
from vlmhb_api_wrapper.schemas import ChatCompletionRequest, LoadRequest
from vlmhb_api_wrapper.settings import MIN_RECOMMENDED_KEY_LENGTH, ServerSettings
from vlmhb_api_wrapper.watchdog import ParentWatch, Watchdog

log = logging.getLogger("vlmhb_api_wrapper")

LATENCY_HEADER = "X-Latency-S"
#: The only path served without the key (liveness probes carry no secrets).
PUBLIC_PATHS = frozenset({"/health"})
#: Request bodies up to this size are parsed on the event loop (well under a millisecond).
INLINE_PARSE_BYTES = 256 * 1024


class ServerState:
    """Everything one server holds, reachable from handlers as ``app.state.server``."""

    def __init__(
        self,
        backend: Backend,
        settings: ServerSettings,
        *,
        backend_distribution: str | None = None,
        backend_version: str | None = None,
    ) -> None:
        self.settings = settings
        self.masker = SecretMasker(secrets_from_env())
        if settings.api_key is None:
            log.warning(
                "no API key given (--api-key, --api-key-file or VLMHB_API_KEY): "
                "every endpoint is open"
            )
        else:
            key = settings.api_key.get_secret_value()
            self.masker.add(key)
            if len(key) < MIN_RECOMMENDED_KEY_LENGTH:
                log.warning(
                    "the API key has %d characters: use %d or more (keys under 4 characters "
                    "are not masked in logs)",
                    len(key),
                    MIN_RECOMMENDED_KEY_LENGTH,
                )
        self._key = (
            settings.api_key.get_secret_value().encode() if settings.api_key is not None else None
        )
        self.manager = ModelManager(
            backend,
            self.masker,
            backend_distribution=backend_distribution,
            backend_version=backend_version,
            drain_s=settings.unload_drain_s,
        )
        #: Called when the parent process is gone; whoever runs uvicorn may replace it with a
        #: gentler stop (``ServerThread`` and ``vlmhb-serve`` set ``should_exit``).
        self.request_shutdown: Callable[[], None] = lambda: os.kill(os.getpid(), signal.SIGTERM)
        self.stats = RequestStats()
        self.monitor = ResourceMonitor(settings.sample_interval_s)
        self.watchdog = Watchdog(
            deadline_s=settings.generate_deadline_s,
            interval_s=settings.watchdog_interval_s,
            memory_limit_bytes=settings.memory_limit_bytes,
            gpu_memory_limit_fraction=settings.gpu_memory_limit_fraction,
            resources=lambda: self.monitor.last,
        )
        self.dispatcher = Dispatcher(
            backend,
            self.watchdog,
            window_s=settings.batch_window_s,
            max_batch_size=settings.max_batch_size,
        )

    def key_ok(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """The ASGI headers carry the key (X-API-Key, or Authorization: Bearer)."""
        if self._key is None:
            return True
        given: bytes | None = None
        bearer = b""
        for name, value in headers:
            if name == b"x-api-key":
                given = value
            elif name == b"authorization":
                bearer = value
        if given is None:
            scheme, _, token = bearer.partition(b" ")
            given = token.strip() if scheme.lower() == b"bearer" else b""
        return hmac.compare_digest(given, self._key)

    def readiness(self) -> tuple[bool, str | None]:
        manager = self.manager
        if manager.state == "failed":
            return False, f"the last load failed: {manager.error}"
        if not manager.loaded:
            return False, f"no model loaded (state: {manager.state})"
        if self.watchdog.reason is not None:
            return False, self.watchdog.reason
        return True, None


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


class _BodyTooLarge(StarletteHTTPException):
    """An HTTPException, so FastAPI's body reader passes it on instead of making it a 400."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, f"request body is {size} bytes or more, over the limit {limit}")


class _BodySizeLimit:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): 413 on a too-large body.

    Checks Content-Length up front, and counts the bytes of a chunked body as they arrive.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _refuse(self, size: int) -> JSONResponse:
        return JSONResponse(
            error_body(413, f"request body is {size} bytes or more, over the limit {self.limit}"),
            status_code=413,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(int(value))(scope, receive, send)
                return
        received = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(received, self.limit)
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(received)(scope, receive, send)


class _KeyCheck:
    """Pure ASGI middleware: 401 from the headers alone, before any byte of the body is read.

    Outermost, so an unauthenticated client cannot make the server read (up to the body
    limit), parse or validate anything; it covers every route, ``/docs``, ``/redoc`` and
    ``/openapi.json`` included, except ``/health``.
    """

    def __init__(self, app: Any, server: ServerState) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in PUBLIC_PATHS
            and not self.server.key_ok(scope["headers"])
        ):
            response = JSONResponse(
                error_body(
                    401, "missing or wrong API key (send X-API-Key or Authorization: Bearer)"
                ),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer", "Connection": "close"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _watch_parent(server: ServerState, pid: int) -> None:
    try:
        watch = ParentWatch(pid)
    except ValueError as exc:
        log.error("%s: shutting down", exc)
        server.request_shutdown()
        return
    await watch.wait_gone(server.settings.watchdog_interval_s)
    log.warning("parent process %d is gone: shutting the server down", pid)
    server.request_shutdown()


def create_app(
    backend: Backend,
    settings: ServerSettings | None = None,
    *,
    initial_config: dict[str, Any] | None = None,
    backend_distribution: str | None = None,
    backend_version: str | None = None,
) -> FastAPI:
    """An app serving ``backend``; ``initial_config`` (or the backend's default) loads at start."""
    settings = settings or ServerSettings()
    server = ServerState(
        backend,
        settings,
        backend_distribution=backend_distribution,
        backend_version=backend_version,
    )
    install_secret_masking(server.masker)
    if Image.MAX_IMAGE_PIXELS is not None and settings.max_image_pixels > Image.MAX_IMAGE_PIXELS:
        # Pillow refuses past 2x its own limit; ours is checked first, so Pillow's may follow it
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    startup_config = backend.default_config() if initial_config is None else initial_config

    async def _initial_load() -> None:
        with contextlib.suppress(ApiError):  # the failure is kept in the state, shown at /ready
            await server.manager.load(dict(startup_config))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server.monitor.start()
        server.watchdog.start()
        loading = asyncio.create_task(_initial_load(), name="vlmhb-initial-load")
        parent = (
            asyncio.create_task(_watch_parent(server, settings.parent_pid), name="vlmhb-parent")
            if settings.parent_pid is not None
            else None
        )
        try:
            yield
        finally:
            for task in (loading, parent):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await server.dispatcher.stop()
            await server.watchdog.stop()
            await server.monitor.stop()
            if server.manager.loaded:
                with contextlib.suppress(Exception):
                    await backend.unload()

    app = FastAPI(title="VLMHyperBench API wrapper", lifespan=lifespan)
    app.state.server = server

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"] if p != "body") or "body"
            problems.append(f"{where}: {error['msg']}")
        first = exc.errors()[0]["loc"] if exc.errors() else ()
        param = ".".join(str(p) for p in first if p != "body") or None
        body = error_body(422, "; ".join(problems), param)
        body["detail"] = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return JSONResponse(body, status_code=422)

    # added last = outermost: the key is checked before the body size, before any body is read
    app.add_middleware(_BodySizeLimit, limit=settings.max_request_bytes)
    app.add_middleware(_KeyCheck, server=server)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        ok, reason = server.readiness()
        body = {"ready": ok, "reason": reason, "state": server.manager.state}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/v1/models")
    async def models() -> Response:
        text = json.dumps(server.manager.describe(), ensure_ascii=False, default=str)
        return Response(server.masker.mask(text), media_type="application/json")

    @app.post("/v1/models/load")
    async def load(body: LoadRequest) -> Response:
        await server.manager.load(body.config, model=body.model, secrets=body.secrets)
        server.watchdog.reset()
        return await models()

    @app.post("/v1/models/unload")
    async def unload() -> Response:
        await server.manager.unload()
        server.watchdog.reset()
        return await models()

    @app.get("/v1/metrics")
    async def metrics(format: str = "json") -> Response:
        stats = server.stats.snapshot()
        ok, reason = server.readiness()
        if format == "prometheus":
            return PlainTextResponse(
                prometheus_text(stats, server.monitor.last, ok),
                media_type="text/plain; version=0.0.4",
            )
        if format != "json":
            raise ApiError(
                400, f"format: expected 'json' or 'prometheus', got {format!r}", "format"
            )
        body = {
            "requests": stats,
            "resources": server.monitor.last,
            "gpu_monitoring": "nvml" if server.monitor.gpu_available else "none",
            "batches": {"recent_sizes": server.dispatcher.batch_sizes[-50:]},
            "ready": ok,
            "reason": reason,
        }
        return JSONResponse(body)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return await metrics(format="prometheus")

    @app.post(
        "/v1/chat/completions",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
                "description": "OpenAI chat completions request (see schemas.py)",
            }
        },
    )
    async def chat_completions(raw: Request) -> JSONResponse:
        data = await raw.body()
        # a small body parses in microseconds, less than a thread hop; a large one (tens of
        # MB of base64 or text) takes long enough to stall every other request: off the loop
        body = (
            _parse_chat(data)
            if len(data) <= INLINE_PARSE_BYTES
            else await asyncio.to_thread(_parse_chat, data)
        )
        started = time.perf_counter()  # from a parsed body, as before: the server's own work
        async with server.manager.serving(body.model) as model_id:
            return await _complete(body, started, model_id)

    async def _complete(body: ChatCompletionRequest, started: float, model_id: str) -> JSONResponse:
        request = GenerationRequest(
            request_id=f"chatcmpl-{uuid.uuid4().hex}",
            messages=await _messages(body, settings),
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
        answer = {
            "id": request.request_id,
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
        return JSONResponse(answer, headers={LATENCY_HEADER: f"{latency:.6f}"})

    return app
