"""A fault-injecting proxy (test helper, not product code) in front of a real OpenAI server.

Hosted endpoints throttle (429 with ``Retry-After``), are overloaded (503), hang, cut bodies
short, answer HTML from a gateway, or go away mid-run. None of that can be asked of a real
server on demand, so this proxy forwards every request to a real one (the API wrapper, a
``vllm serve``) and, when told, answers a request with a fault instead. It can also enforce a
requests-per-minute limit the way a provider does: a sliding 60 s window counted by arrival,
refusing the excess with 429 and the seconds until a slot frees as ``Retry-After``.

It runs its own event loop in a thread, so synchronous tests and ``vlmhb run`` subprocesses
reach it like any server; it records what it received (bodies and whether a key came with
them) so a test can check what a client sent.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

#: What the proxy can answer instead of forwarding.
FAULTS = ("429", "503", "timeout", "truncated", "not-json", "die")


@dataclass
class Received:
    """One request as the proxy saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    answered: int | str = 0
    """The status sent back, or the fault's name."""


@dataclass
class FaultProxy:
    """Forward ``/v1/...`` to ``upstream`` (a ``.../v1`` URL), injecting faults on request.

    ``faults`` is consumed one per chat completion request, in order (None: forward);
    ``fault_for`` (a function of the completion's index) decides instead when given. ``rpm``
    turns on the sliding-window limit. ``retry_after`` is what a scripted 429/503 sends.
    """

    upstream: str
    faults: list[str | None] = field(default_factory=list)
    fault_for: Callable[[int], str | None] | None = None
    rpm: float | None = None
    retry_after: float = 1.0
    timeout_hang_s: float = 30.0
    received: list[Received] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._window: collections.deque[float] = collections.deque()
        self._completions = 0
        self._lock = threading.Lock()
        self.dead = False

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=256 * 2**20)
        app.router.add_route("*", "/v1/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        # stopping cancels a request still hanging on a scripted timeout (its client gave up
        # long ago) instead of waiting out the hang
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        async def _stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            if self._session is not None:
                await self._session.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what was seen --------------------------------------------------------------------
    def completions(self) -> list[Received]:
        return [r for r in self.received if r.path.endswith("/chat/completions")]

    def count(self, answered: int | str) -> int:
        return sum(1 for r in self.completions() if r.answered == answered)

    # --- the handler ----------------------------------------------------------------------
    def _next_fault(self) -> str | None:
        with self._lock:
            index = self._completions
            self._completions += 1
        if self.fault_for is not None:
            return self.fault_for(index)
        return self.faults[index] if index < len(self.faults) else None

    def _over_rpm(self) -> float | None:
        """Seconds until a slot frees if this arrival passes the limit, else None (counted)."""
        if not self.rpm:
            return None
        now = time.monotonic()
        while self._window and now - self._window[0] >= 60.0:
            self._window.popleft()
        if len(self._window) >= self.rpm:
            return max(0.0, 60.0 - (now - self._window[0]))
        self._window.append(now)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = Received(request.method, request.path, dict(request.headers), body)
        self.received.append(seen)
        if self.dead:
            seen.answered = "die"
            assert request.transport is not None
            request.transport.close()  # the connection drops: a server gone away
            return web.Response(status=502)
        fault = self._next_fault() if request.path.endswith("/chat/completions") else None
        wait = self._over_rpm() if request.path.endswith("/chat/completions") else None
        if wait is not None:
            seen.answered = 429
            return web.json_response(
                {"error": {"message": "rate limit reached", "type": "requests"}},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if fault is not None:
            seen.answered = fault
            return await self._fault(request, fault)
        return await self._forward(request, raw, seen)

    async def _fault(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault in ("429", "503"):
            return web.json_response(
                {"error": {"message": f"injected {fault}"}},
                status=int(fault),
                headers={"Retry-After": f"{self.retry_after:g}"},
            )
        if fault == "timeout":
            await asyncio.sleep(self.timeout_hang_s)
            return web.json_response({"error": {"message": "too late"}}, status=504)
        if fault == "not-json":
            return web.Response(text="<html>bad gateway</html>", content_type="text/html")
        if fault == "truncated":
            response = web.StreamResponse(
                status=200, headers={"Content-Type": "application/json", "Content-Length": "400"}
            )
            await response.prepare(request)
            await response.write(b'{"id": "x", "choices": [{"mess')
            assert request.transport is not None
            request.transport.close()
            return response
        if fault == "die":
            self.dead = True
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=502)
        raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")

    async def _forward(self, request: web.Request, raw: bytes, seen: Received) -> web.Response:
        assert self._session is not None
        tail = request.path.removeprefix("/v1")
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        async with self._session.request(
            request.method, f"{self.upstream}{tail}", data=raw or None, headers=headers
        ) as upstream:
            body = await upstream.read()
            seen.answered = upstream.status
            keep = {"content-type", "retry-after"}
            out = {k: v for k, v in upstream.headers.items() if k.lower() in keep}
            return web.Response(status=upstream.status, body=body, headers=out)
