"""The inference runner: samples in, one answer record per sample out, resumable.

Requests go to the API wrapper's OpenAI-compatible endpoint with bounded concurrency. A
sample that fails is retried, then recorded as failed; a server that stops answering is
restarted through ``ServerHandle.restart`` and the run goes on where it stopped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import mimetypes
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from .answers import AnswerRecord, compact_answers, read_answers
from .structured import parse_structured


class ServerHandle(Protocol):
    base_url: str
    api_key: str | None

    async def restart(self, reason: str) -> None: ...


@dataclass
class InferSettings:
    model_id: str | None
    system_prompt: str | None
    template: str | None
    collection: dict[str, str]
    generation: dict[str, Any]
    response_format: dict[str, Any] | None
    json_schema: dict[str, Any] | None
    output_kind: str
    concurrency: int = 4
    per_run: int = 3
    max_attempts: int = 9
    timeout_s: float = 300.0
    max_server_restarts: int = 3


def build_prompt(sample: dict[str, Any], settings: InferSettings) -> str:
    """The collection prompt for '<doc_class> <question_type>' replaces the question."""
    variables = dict(sample.get("prompt_vars") or {})
    key = f"{sample.get('doc_class')} {sample.get('question_type')}"
    if key in settings.collection:
        variables["question"] = settings.collection[key]
        if not settings.template or "{question}" not in settings.template:
            return settings.collection[key]
    if settings.template is None:
        return variables.get("question", "")
    return settings.template.format(**variables)


@functools.lru_cache(maxsize=16)
def _data_url(path: str, mtime_ns: int, size: int) -> str:
    """A page asked many questions (VQA) is read and encoded once; keyed by its stat."""
    mime = mimetypes.guess_type(path)[0] or "image/png"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:{mime};base64,{data}"


def image_part(path: str) -> dict[str, Any]:
    stat = os.stat(path)
    return {
        "type": "image_url",
        "image_url": {"url": _data_url(path, stat.st_mtime_ns, stat.st_size)},
    }


def request_body(sample: dict[str, Any], settings: InferSettings) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if settings.system_prompt:
        messages.append({"role": "system", "content": settings.system_prompt})
    content = [{"type": "text", "text": build_prompt(sample, settings)}]
    content += [image_part(p) for p in sample.get("images") or []]
    messages.append({"role": "user", "content": content})
    body: dict[str, Any] = {"model": settings.model_id or "default", "messages": messages}
    body.update({k: v for k, v in settings.generation.items() if v is not None})
    if settings.response_format is not None:
        body["response_format"] = settings.response_format
    return body


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


class _SampleError(Exception):
    """The server answered with an error for this sample: retry it, then record it failed."""


class _GroupWriter:
    """Appends answer records off the event loop, one flush + fsync per batch (group commit).

    A per-record fsync on the event loop stalls every request in flight for the disk's
    latency (milliseconds), which made the client, not the server, the bottleneck. Records
    that arrive while a batch is being synced form the next batch, so a crash still costs at
    most the samples in flight, and every record is on disk when ``close`` returns.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._pending: list[str] = []
        self._flusher: asyncio.Task[None] | None = None

    def write(self, record: AnswerRecord) -> None:
        self._pending.append(record.model_dump_json() + "\n")
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._drain())

    def _sync(self, lines: list[str]) -> None:
        self._file.write("".join(lines))
        self._file.flush()
        os.fsync(self._file.fileno())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await asyncio.to_thread(self._sync, batch)

    async def aclose(self) -> None:
        try:
            while self._flusher is not None and not self._flusher.done():
                await asyncio.shield(self._flusher)
            if self._pending:  # a batch left by a failed flusher: write it here
                self._sync(self._pending)
                self._pending = []
            if self._flusher is not None and not self._flusher.cancelled():
                self._flusher.result()  # a disk error is the run's error
        finally:
            self._file.close()


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
    ) -> None:
        self.samples = samples
        self.answers_path = answers_path
        self.settings = settings
        self.server = server
        self.on_progress = on_progress or (lambda done, total, failed: None)
        self.on_resource = on_resource or (lambda sample: None)
        self.resource_interval_s = resource_interval_s
        #: Peaks seen on the model server during this run (MiB): peak_rss_mb, peak_vram_mb.
        self.telemetry: dict[str, float] = {}
        self._restarts = 0
        self._restart_lock = asyncio.Lock()
        self._generation = 0  # bumps on each restart, so concurrent failures restart once
        self._spent: dict[str, int] = {}

    async def run(self) -> list[AnswerRecord]:
        # The one resume rule: answered samples are never sent again; failed ones are retried
        # until they have used ``max_attempts`` requests over all runs (their new record
        # replaces the old one when the file is compacted at the end).
        previous = read_answers(self.answers_path)
        self._spent = {k: r.attempts for k, r in previous.items() if r.parse_status == "failed"}
        todo = pending_samples(self.samples, previous, self.settings.max_attempts)
        done = len(self.samples) - len(todo)
        failed = 0
        self.on_progress(done, len(self.samples), failed)
        writer = _GroupWriter(self.answers_path)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for sample in todo:
            queue.put_nowait(sample)
        counters = {"done": done, "failed": failed}

        async def worker(client: httpx.AsyncClient) -> None:
            while True:
                try:
                    sample = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                record = await self._answer(client, sample)
                writer.write(record)
                counters["done"] += 1
                counters["failed"] += record.parse_status == "failed"
                self.on_progress(counters["done"], len(self.samples), counters["failed"])

        # One connection per worker (+1 for the monitor), all kept alive: httpx's pool scans
        # every connection it holds on each request, so a bigger pool only costs time.
        connections = max(1, self.settings.concurrency) + 1
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout_s, limits=limits) as client:
                sampler = asyncio.create_task(self._sample_resources(client))
                workers = [worker(client) for _ in range(max(1, self.settings.concurrency))]
                try:
                    await asyncio.gather(*workers)
                finally:
                    sampler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sampler
                await self._sample_once(client)
        finally:
            await writer.aclose()
        compact_answers(self.answers_path)
        records = read_answers(self.answers_path)
        return [records[str(s["id"])] for s in self.samples if str(s["id"]) in records]

    async def _sample_resources(self, client: httpx.AsyncClient) -> None:
        """Poll the wrapper's resource monitor while samples flow: peak RAM and GPU memory."""
        while True:
            await self._sample_once(client)
            await asyncio.sleep(self.resource_interval_s)

    async def _sample_once(self, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {self.server.api_key}"} if self.server.api_key else {}
        try:
            response = await client.get(
                f"{self.server.base_url}/v1/metrics", headers=headers, timeout=5
            )
            resources = response.json().get("resources") or {}
        except (httpx.HTTPError, ValueError, AttributeError):
            return  # telemetry is best effort: never fail a sample for it
        rss = resources.get("process_rss_bytes")
        gpu = sum(g.get("memory_used_bytes", 0) for g in resources.get("gpus") or [])
        sample = {
            "rss_mb": rss / 2**20 if rss else None,
            "vram_mb": gpu / 2**20 if gpu else None,
            "cpu_percent": resources.get("process_cpu_percent"),
        }
        for key in ("rss_mb", "vram_mb"):
            if sample[key] is not None:
                self.telemetry[f"peak_{key}"] = max(
                    self.telemetry.get(f"peak_{key}") or 0.0, sample[key]
                )
        self.on_resource({k: v for k, v in sample.items() if v is not None})

    async def _answer(self, client: httpx.AsyncClient, sample: dict[str, Any]) -> AnswerRecord:
        base = {
            "id": str(sample["id"]),
            "doc_class": sample.get("doc_class"),
            "question_type": sample.get("question_type"),
        }
        try:
            body = request_body(sample, self.settings)
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
        attempt = 0
        while attempt < budget:
            attempt += 1
            generation = self._generation
            started = time.time()
            t0 = time.perf_counter()
            try:
                payload = await self._post(client, body)
            except _ServerDown as exc:
                last_error = str(exc)
                if not await self._restart(generation, last_error):
                    break
                attempt -= 1  # a dead server is not the sample's fault
                continue
            except _SampleError as exc:
                last_error = str(exc)
                await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
                continue
            latency = time.perf_counter() - t0
            text = payload["choices"][0]["message"].get("content")
            usage = payload.get("usage") or {}
            status, parsed, error = "text", None, None
            if self.settings.output_kind == "json":
                status, parsed, error = parse_structured(text, self.settings.json_schema)
            return AnswerRecord(
                **base,
                answer=text,
                parse_status=status,
                parsed=parsed,
                error=error,
                attempts=spent + attempt,
                latency_s=latency,
                server_latency_s=payload.get("latency_s")
                or (payload.get("vlmhb") or {}).get("latency_s"),
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
                started_at=started,
                finished_at=time.time(),
            )
        return AnswerRecord(
            **base, answer=None, parse_status="failed", error=last_error, attempts=spent + attempt
        )

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.server.api_key}"} if self.server.api_key else {}
        try:
            response = await client.post(
                f"{self.server.base_url}/v1/chat/completions", json=body, headers=headers
            )
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise _ServerDown(f"server unreachable: {type(exc).__name__}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise _SampleError(f"timed out after {self.settings.timeout_s} s") from exc
        if response.status_code == 503:
            raise _ServerDown(f"server not ready (503): {response.text[:200]}")
        if response.status_code >= 400:
            raise _SampleError(f"HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

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
