"""The inference runner: samples in, one answer record per sample out, resumable.

Requests go to the API wrapper's OpenAI-compatible endpoint with bounded concurrency. A
sample that fails is retried, then recorded as failed; a server that stops answering is
restarted through ``ServerHandle.restart`` and the run goes on where it stopped.

The client side must never be what bounds a benchmark's speed, so the hot path is kept lean
(measured by ``bench/bench_pipeline.py`` against the server's own capacity):

- aiohttp, not httpx, sends the requests: httpcore's pool re-scans every connection it holds
  on each request, which cost ~2 ms of CPU per request at concurrency 32 against ~0.1 ms
  for aiohttp's connector, so an instant server was held to a tenth of its capacity;
- a page's image is encoded once and spliced into each request that shows it
  (``chat_request``);
- answers are appended off the event loop in group commits (``AnswerWriter``), and progress
  is reported at most every ``PROGRESS_INTERVAL_S`` (each report is an event written to
  ``events.jsonl`` and drawn by the progress bar), plus once at the end.

An endpoint someone else runs (``EndpointServer``) is not restarted: 429 and 503 are
throttling (the ``AdaptiveLimiter`` backs off, honours ``Retry-After`` and grows again), other
failures are retried with jittered backoff, and ``max_consecutive_failures`` failed requests
in a row stop the model's run cleanly, as does a spent ``--max-cost`` budget: workers take no
new sample, a sample in flight writes no record unless it was answered, so every sample has
one record or none and the next run resumes it (``stopped`` says why).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from ..registry.models import ReasoningSpec
from .answers import AnswerRecord, AnswerWriter, compact_answers, read_answers
from .chat_request import InferSettings, image_bytes, request_bytes
from .generation import NotACompletion, read_completion
from .ratelimit import AdaptiveLimiter, CostBudget, backoff_s, retry_after_s
from .structured import parse_structured

#: How often, at most, progress is reported while samples flow (the last report is always made).
PROGRESS_INTERVAL_S = 0.2


class ServerHandle(Protocol):
    base_url: str
    api_key: str | None

    async def restart(self, reason: str) -> None: ...


def pending_samples(
    samples: list[dict[str, Any]], records: dict[str, AnswerRecord], max_attempts: int
) -> list[dict[str, Any]]:
    """Samples still to ask: never answered, or failed with attempts left."""
    todo = []
    for sample in samples:
        record = records.get(str(sample["id"]))
        if record is None or (record.parse_status == "failed" and record.attempts < max_attempts):
            todo.append(sample)
    return todo


class _ServerDown(Exception):
    """The server did not answer at all: restart it; not the sample's fault."""


def machine_load() -> float | None:
    """The 1-minute load average (runnable processes, this run's and everyone else's)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not every platform has one
        return None


class _SampleError(Exception):
    """The server answered with an error for this sample: retry it, then record it failed."""


class _Throttled(Exception):
    """429 (or an endpoint's 503): too much at once; back off, the sample is not at fault."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: Throttled answers one sample may get in one run, per request it may use, before it is
#: recorded failed (a limit that never lets it through must not hold the run forever).
THROTTLES_PER_ATTEMPT = 5


class InferenceRunner:
    def __init__(
        self,
        samples: list[dict[str, Any]],
        answers_path: Path,
        settings: InferSettings,
        server: ServerHandle,
        on_progress: Callable[[int, int, int], None] | None = None,
        on_resource: Callable[[dict[str, float]], None] | None = None,
        resource_interval_s: float = 1.0,
        budget: CostBudget | None = None,
    ) -> None:
        self.samples = samples
        self.answers_path = answers_path
        self.settings = settings
        self.server = server
        self.on_progress = on_progress or (lambda done, total, failed: None)
        self.on_resource = on_resource or (lambda sample: None)
        self.resource_interval_s = resource_interval_s
        #: Peaks seen on the model server during this run (MiB): peak_rss_mb, peak_vram_mb;
        #: and the machine's busiest moment: peak_load_1m (1-minute load average), cpus.
        self.telemetry: dict[str, float] = {}
        self._restarts = 0
        self._restart_lock = asyncio.Lock()
        self._generation = 0  # bumps on each restart, so concurrent failures restart once
        self._spent: dict[str, int] = {}
        self.budget = budget
        self.reasoning = settings.reasoning or ReasoningSpec()
        self.restartable = getattr(server, "restartable", True)
        paced = settings.rpm or settings.tpm or not self.restartable
        #: None for our own server without declared limits: nothing to pace (the hot path).
        self.limiter = (
            AdaptiveLimiter(settings.concurrency, settings.rpm, settings.tpm) if paced else None
        )
        #: Why the run stopped before every sample was asked (None: it did not).
        self.stopped: str | None = None
        self._consecutive = 0
        self._prompt_seen = 0

    async def run(self) -> list[AnswerRecord]:
        # The one resume rule: answered samples are never sent again; failed ones are retried
        # until they have used ``max_attempts`` requests over all runs (their new record
        # replaces the old one when the file is compacted at the end).
        previous = read_answers(self.answers_path)
        self._spent = {k: r.attempts for k, r in previous.items() if r.parse_status == "failed"}
        todo = pending_samples(self.samples, previous, self.settings.max_attempts)
        total = len(self.samples)
        counters = {"done": total - len(todo), "failed": 0}
        self.on_progress(counters["done"], total, counters["failed"])
        writer = AnswerWriter(self.answers_path)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for sample in todo:
            queue.put_nowait(sample)
        reported = time.monotonic()

        async def worker(session: aiohttp.ClientSession) -> None:
            nonlocal reported
            while self.stopped is None:
                try:
                    sample = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                record = await self._answer(session, sample)
                if record is None:  # stopped before it was answered: it stays to do
                    continue
                writer.write(record)
                counters["done"] += 1
                counters["failed"] += record.parse_status == "failed"
                now = time.monotonic()
                if now - reported >= PROGRESS_INTERVAL_S:
                    reported = now
                    self.on_progress(counters["done"], total, counters["failed"])

        workers = max(1, self.settings.concurrency)
        try:
            async with self._session(workers + 1) as session:  # +1: the resource monitor
                sampler = asyncio.create_task(
                    self._sample_resources(session)
                    if getattr(self.server, "telemetry", True)
                    else asyncio.sleep(0)
                )
                tasks = [asyncio.create_task(worker(session)) for _ in range(workers)]
                try:
                    await asyncio.gather(*tasks)
                finally:
                    # On an error (or Ctrl-C) every worker and the sampler is cancelled and
                    # awaited before the session and the answers file close under them.
                    for task in (*tasks, sampler):
                        task.cancel()
                    await asyncio.gather(*tasks, sampler, return_exceptions=True)
                if getattr(self.server, "telemetry", True):
                    await self._sample_once(session)
        finally:
            await writer.aclose()
        self.on_progress(counters["done"], total, counters["failed"])
        compact_answers(self.answers_path)
        records = read_answers(self.answers_path)
        return [records[str(s["id"])] for s in self.samples if str(s["id"]) in records]

    def _session(self, connections: int) -> aiohttp.ClientSession:
        """One keep-alive connection per worker; timeouts per socket operation, as before.

        ``timeout_s`` bounds connecting and each wait for the server's bytes (a generation
        that sends nothing for ``timeout_s`` fails), not the whole request, so a long answer
        that is streaming in is never cut. Proxies from the environment are not used: a model
        server is reached directly, or its latency would include the proxy's.
        """
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.settings.timeout_s, sock_read=self.settings.timeout_s
        )
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    def _headers(self) -> dict[str, str]:
        # Read per request: a restarted server may have a new key (and a new base_url).
        key = self.server.api_key
        extra = getattr(self.server, "headers", None) or {}
        return {**extra, "Authorization": f"Bearer {key}"} if key else dict(extra)

    def _api_base(self) -> str:
        """``<base_url>/v1`` of our wrapper, or an endpoint's base as the openai client has it."""
        return getattr(self.server, "api_base", None) or f"{self.server.base_url}/v1"

    def _mask(self, text: str) -> str:
        """An error text without the key (a hostile or buggy endpoint may echo it back)."""
        key = self.server.api_key
        return text.replace(key, "***") if key else text

    def _failed_request(self, error: str) -> None:
        self._consecutive += 1
        limit = self.settings.max_consecutive_failures
        if self._consecutive >= limit and self.stopped is None:
            self.stopped = (
                f"{self._consecutive} requests in a row failed (last: {error}); this model's run "
                "stopped: answers so far kept, run again to resume"
            )

    def _estimates(self, text_bytes: int, images: int) -> tuple[int, int]:
        """(prompt, completion) tokens a request may use, for tpm pacing and the budget.

        The prompt: the largest seen so far, else the body's text at 4 bytes a token plus
        1,000 a page (images are not text). The completion: max_tokens, the worst case.
        """
        prompt = self._prompt_seen or (text_bytes // 4 + 1000 * images)
        completion = int(self.settings.generation.get("max_tokens") or 1024)
        return prompt, completion

    async def _sample_resources(self, session: aiohttp.ClientSession) -> None:
        """Poll the wrapper's resource monitor while samples flow: peak RAM and GPU memory."""
        while True:
            await self._sample_once(session)
            await asyncio.sleep(self.resource_interval_s)

    async def _sample_once(self, session: aiohttp.ClientSession) -> None:
        try:
            async with session.get(
                f"{self.server.base_url}/v1/metrics",
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                resources = json.loads(await response.read()).get("resources") or {}
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError):
            return  # telemetry is best effort: never fail a sample for it
        rss = resources.get("process_rss_bytes")
        gpu = sum(g.get("memory_used_bytes", 0) for g in resources.get("gpus") or [])
        sample = {
            "rss_mb": rss / 2**20 if rss else None,
            "vram_mb": gpu / 2**20 if gpu else None,
            "cpu_percent": resources.get("process_cpu_percent"),
        }
        load = machine_load()
        if load is not None:  # what else the machine was doing: speed figures depend on it
            sample["load_1m"] = load
            self.telemetry["cpus"] = float(os.cpu_count() or 1)
        for key in ("rss_mb", "vram_mb", "load_1m"):
            if sample.get(key) is not None:
                self.telemetry[f"peak_{key}"] = max(
                    self.telemetry.get(f"peak_{key}") or 0.0, sample[key]
                )
        self.on_resource({k: v for k, v in sample.items() if v is not None})

    async def _answer(
        self, session: aiohttp.ClientSession, sample: dict[str, Any]
    ) -> AnswerRecord | None:
        base = {
            "id": str(sample["id"]),
            "doc_class": sample.get("doc_class"),
            "question_type": sample.get("question_type"),
        }
        try:
            body = request_bytes(sample, self.settings)
            pages = sample.get("images") or []
            body_text = len(body) - sum(len(image_bytes(p)) for p in pages)
        except (OSError, KeyError, ValueError, IndexError) as exc:
            return AnswerRecord(
                **base,
                answer=None,
                parse_status="failed",
                error=f"bad sample: {exc}",
                attempts=self.settings.max_attempts,  # retrying cannot fix the sample
            )
        last_error = "unknown error"
        spent = self._spent.get(base["id"], 0)
        budget = min(self.settings.per_run, self.settings.max_attempts - spent)
        attempt = throttles = 0
        price = self.settings.price
        while attempt < budget:
            if self.stopped is not None:
                return None
            prompt_est, completion_est = self._estimates(body_text, len(pages))
            cost_est = price.cost(prompt_est, completion_est) if price is not None else 0.0
            if price is not None and self.budget is not None:
                if not self.budget.reserve(cost_est):
                    self.stopped = self.budget.exhausted
                    return None
            ticket = None
            if self.limiter is not None:
                ticket = await self.limiter.acquire(prompt_est + completion_est)
            attempt += 1
            generation = self._generation
            started = time.time()
            t0 = time.perf_counter()
            payload: dict[str, Any] | None = None
            retry_after: float | None = None
            throttled = down = False
            try:
                payload = await self._post(session, body)
            except _Throttled as exc:
                last_error, retry_after, throttled = str(exc), exc.retry_after, True
            except _ServerDown as exc:
                last_error, down = str(exc), True
            except _SampleError as exc:
                last_error = str(exc)
            finally:
                actual = None
                if payload is not None:
                    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
                    actual = (usage.get("prompt_tokens") or 0) + (
                        usage.get("completion_tokens") or 0
                    )
                if ticket is not None and self.limiter is not None:
                    await self.limiter.release(
                        ticket, throttled=throttled, retry_after=retry_after, tokens_used=actual
                    )
            if payload is not None:
                try:
                    gen = read_completion(payload, self.reasoning)
                except NotACompletion as exc:
                    payload, last_error = None, self._mask(f"HTTP 200 but {exc}: {payload!r:.200}")
            if payload is None:
                if price is not None and self.budget is not None:
                    self.budget.settle(cost_est, 0.0)
                self._failed_request(last_error)
                if throttled:
                    attempt -= 1  # refused before it was tried: not the sample's attempt
                    throttles += 1
                    if throttles >= THROTTLES_PER_ATTEMPT * max(1, budget):
                        attempt = budget
                        break
                    if retry_after is None:
                        await asyncio.sleep(backoff_s(throttles))
                    continue
                if down and self.restartable:
                    if not await self._restart(generation, last_error):
                        break
                    attempt -= 1  # a dead server is not the sample's fault
                    continue
                await asyncio.sleep(backoff_s(attempt, base_s=0.2, cap_s=10.0))
                continue
            latency = time.perf_counter() - t0
            self._consecutive = 0
            if gen.prompt_tokens:
                self._prompt_seen = max(self._prompt_seen, gen.prompt_tokens)
            cost = price.cost(gen.prompt_tokens, gen.completion_tokens) if price else None
            if price is not None and self.budget is not None:
                self.budget.settle(cost_est, cost or 0.0)
            status, parsed, error = "text", None, None
            attempts = spent + attempt
            if gen.failed is not None:
                # the model's own answer, not a transport failure: asking again gives it again
                status, error, attempts = "failed", gen.failed, self.settings.max_attempts
            elif self.settings.output_kind == "json":
                status, parsed, error = parse_structured(gen.text, self.settings.json_schema)
            return AnswerRecord(
                **base,
                answer=gen.text,
                parse_status=status,
                parsed=parsed,
                error=error,
                attempts=attempts,
                latency_s=latency,
                server_latency_s=payload.get("latency_s")
                or (payload.get("vlmhb") or {}).get("latency_s"),
                prompt_tokens=gen.prompt_tokens,
                completion_tokens=gen.completion_tokens,
                reasoning_tokens=gen.reasoning_tokens,
                reasoning=gen.reasoning,
                finish_reason=gen.finish_reason,
                response_model=gen.response_model,
                system_fingerprint=gen.system_fingerprint,
                cost_usd=cost,
                started_at=started,
                finished_at=time.time(),
                cached=payload.get("cached") is True,
            )
        if self.stopped is not None and attempt == 0:
            return None
        return AnswerRecord(
            **base, answer=None, parse_status="failed", error=last_error, attempts=spent + attempt
        )

    async def _post(self, session: aiohttp.ClientSession, body: bytes) -> dict[str, Any]:
        """The completion body; raises _Throttled, _ServerDown or _SampleError."""
        headers = {**self._headers(), "Content-Type": "application/json"}
        limit = self.settings.request_timeout_s
        timeout = aiohttp.ClientTimeout(total=limit) if limit else None
        for fresh_try in (True, False):
            try:
                async with session.post(
                    f"{self._api_base()}/chat/completions",
                    data=body,
                    headers=headers,
                    **({"timeout": timeout} if timeout else {}),
                ) as response:
                    status, raw = response.status, await response.read()
                    wait = retry_after_s(response.headers.get("Retry-After"))
                break
            except TimeoutError as exc:  # aiohttp's socket timeouts are TimeoutErrors too
                took = limit or self.settings.timeout_s
                raise _SampleError(f"timed out after {took} s") from exc
            except aiohttp.ServerDisconnectedError as exc:
                if fresh_try:  # a kept-alive connection the server had just closed: once more
                    continue
                raise _ServerDown(f"server unreachable: {type(exc).__name__}: {exc}") from exc
            except aiohttp.ClientConnectionError as exc:
                raise _ServerDown(f"server unreachable: {type(exc).__name__}: {exc}") from exc
            except aiohttp.ClientError as exc:  # a malformed or cut-off HTTP response
                raise _ServerDown(f"bad HTTP response: {type(exc).__name__}: {exc}") from exc
        text = self._mask(raw.decode("utf-8", errors="replace"))
        if status == 429 or (status == 503 and not self.restartable):
            raise _Throttled(f"HTTP {status} (throttled): {text[:200]}", wait)
        if status == 503:
            raise _ServerDown(f"server not ready (503): {text[:200]}")
        if status >= 400:
            raise _SampleError(f"HTTP {status}: {text[:300]}")
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise _SampleError(
                f"HTTP {status} but not a chat completion (not JSON): {text[:200]!r}"
            ) from exc
        if not isinstance(payload, dict):
            raise _SampleError(f"HTTP {status} but not a chat completion: {text[:200]!r}")
        return payload

    async def _restart(self, generation: int, reason: str) -> bool:
        async with self._restart_lock:
            if generation != self._generation:
                return True  # someone else already restarted it
            if self._restarts >= self.settings.max_server_restarts:
                return False
            self._restarts += 1
            try:
                await self.server.restart(reason)
            except Exception:
                return False
            self._generation += 1
            return True
