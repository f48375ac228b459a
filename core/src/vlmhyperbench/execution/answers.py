"""answers.jsonl: one record per sample, appended and flushed as answers arrive.

A killed process may leave a half-written last line; reading drops it (and truncates it away
before appending), so every sample appears exactly once after a resume.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

ParseStatus = str  # "text" | "ok" | "fenced" | "invalid_json" | "schema_error" | "failed"


class AnswerRecord(BaseModel):
    id: str
    answer: str | None
    parse_status: ParseStatus
    parsed: Any = None
    error: str | None = None
    attempts: int = 1
    latency_s: float | None = Field(default=None, description="Client-side, request to response.")
    server_latency_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = Field(
        default=None, description="usage.completion_tokens_details (part of completion)."
    )
    reasoning: str | None = Field(
        default=None, description="reasoning_content or a think block: kept, never scored."
    )
    finish_reason: str | None = Field(default=None, description="length: cut by max_tokens.")
    response_model: str | None = Field(default=None, description="The response's `model`.")
    system_fingerprint: str | None = None
    cost_usd: float | None = Field(
        default=None, description="From the model entry's price and this answer's usage."
    )
    started_at: float | None = None
    finished_at: float | None = None
    cached: bool = Field(
        default=False,
        description="The server answered from its cache (no model work): left out of speed.",
    )
    doc_class: str | None = None
    question_type: str | None = None


def read_answers(path: Path) -> dict[str, AnswerRecord]:
    """Complete records by id; a truncated last line is cut off the file."""
    records: dict[str, AnswerRecord] = {}
    if not path.exists():
        return records
    with path.open("rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            handle.truncate(cut)
            data = data[:cut]
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            record = AnswerRecord.model_validate_json(line)
            records[record.id] = record
    return records


def compact_answers(path: Path) -> None:
    """Keep one record per sample (the last), atomically: retried samples appear once."""
    if not path.exists():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = read_answers(path)
    if len(records) == len(lines):
        return
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in records.values()), encoding="utf-8")
    tmp.replace(path)


class AnswerWriter:
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


def load_samples(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
