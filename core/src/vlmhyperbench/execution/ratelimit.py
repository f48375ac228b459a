"""Staying under an endpoint's limits: adaptive concurrency, request and token pacing, spend.

A hosted endpoint answers too many requests with 429 (or 503 when overloaded). Sending into
that wastes the minute's quota on refusals, so the runner keeps under what the model entry
declares (``rpm``, ``tpm``, ``max_concurrency``) and adapts to what the endpoint says:

- requests start no closer than ``60 / (rpm * RPM_HEADROOM)`` apart: a provider counts a
  sliding minute by *arrival*, and requests paced exactly at the limit arrive early or late by
  network jitter, so about half of the boundary requests would be refused;
- tokens are taken from a bucket of ``tpm`` per minute by estimate, corrected by ``usage``;
- concurrency halves on a 429/503 (once per wave: requests already in flight when the cut
  was made do not cut again) and grows by one after as many calm answers as the limit;
- ``Retry-After`` pauses every request until then, not only the one that was refused.

``CostBudget`` is shared by every model of a run (they run in threads), so ``--max-cost``
bounds the run's spend, checked before each request with its worst-case cost.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import threading
import time
from dataclasses import dataclass

#: Requests are paced at this share of the declared rpm (see the module docstring).
RPM_HEADROOM = 0.97
#: A Retry-After longer than this is taken as this (a run should not sleep for an hour).
MAX_RETRY_AFTER_S = 300.0


def backoff_s(attempt: int, base_s: float = 0.5, cap_s: float = 30.0) -> float:
    """Full-jitter exponential backoff: retries of many samples do not come back together."""
    return random.uniform(0, min(cap_s, base_s * 2 ** max(0, attempt - 1)))


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


@dataclass
class Ticket:
    started: float
    tokens: float


class AdaptiveLimiter:
    """Slots for requests to one endpoint; ``acquire`` waits, ``release`` reports the outcome."""

    def __init__(
        self, max_concurrency: int, rpm: float | None = None, tpm: float | None = None
    ) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.limit = self.max_concurrency
        self.in_flight = 0
        self.interval_s = 60.0 / (rpm * RPM_HEADROOM) if rpm else 0.0
        self.tpm = tpm
        self._level = float(tpm or 0)  # tokens available now (negative: owed)
        self._level_at = time.monotonic()
        self._next_start = 0.0
        self._not_before = 0.0
        self._last_cut = -1.0
        self._calm = 0
        self._cond = asyncio.Condition()
        #: What happened, for reports and tests: throttled answers, cuts, lowest limit.
        self.throttled = 0
        self.cuts = 0
        self.lowest_limit = self.limit

    def _tokens_ready_at(self, now: float, need: float) -> float:
        assert self.tpm is not None
        rate = self.tpm / 60.0
        self._level = min(self.tpm, self._level + (now - self._level_at) * rate)
        self._level_at = now
        need = min(need, self.tpm)  # a request bigger than a minute's budget still goes
        ready = now if self._level >= need else now + (need - self._level) / rate
        self._level -= need
        return ready

    async def acquire(self, tokens: float = 0.0) -> Ticket:
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            now = time.monotonic()
            start = max(now, self._next_start, self._not_before)
            if self.tpm:
                start = max(start, self._tokens_ready_at(now, tokens))
            self._next_start = start + self.interval_s
        try:
            while True:
                wait = max(start, self._not_before) - time.monotonic()
                if wait <= 0:
                    return Ticket(started=time.monotonic(), tokens=tokens if self.tpm else 0.0)
                await asyncio.sleep(wait)
        except BaseException:
            await self._free()
            raise

    async def _free(self) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    async def release(
        self,
        ticket: Ticket,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
        tokens_used: int | None = None,
    ) -> None:
        """Give the slot back; a throttled answer (429/503) cuts concurrency, calm grows it."""
        now = time.monotonic()
        if self.tpm and tokens_used is not None:
            self._level += ticket.tokens - tokens_used  # the estimate, corrected
        if retry_after is not None:
            self._not_before = max(self._not_before, now + retry_after)
        if throttled:
            self.throttled += 1
            self._calm = 0
            if ticket.started > self._last_cut:  # one cut per wave of refusals
                self._last_cut = now
                self.limit = max(1, self.limit // 2)
                self.cuts += 1
                self.lowest_limit = min(self.lowest_limit, self.limit)
        else:
            self._calm += 1
            if self._calm >= self.limit and self.limit < self.max_concurrency:
                self.limit += 1
                self._calm = 0
        await self._free()


class CostBudget:
    """A run's spend limit across its models (threads): reserve before, settle after."""

    def __init__(self, limit_usd: float) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()
        self.exhausted: str | None = None

    def reserve(self, estimate_usd: float) -> bool:
        """True if a request that may cost ``estimate_usd`` fits; else the budget is spent."""
        with self._lock:
            if self.exhausted is None and (
                self.spent_usd + self._reserved + estimate_usd > self.limit_usd
            ):
                self.exhausted = (
                    f"--max-cost {self.limit_usd:g} USD reached: {self.spent_usd:.6f} USD spent "
                    f"(+{self._reserved:.6f} in flight), and the next request may cost up to "
                    f"{estimate_usd:.6f} USD"
                )
            if self.exhausted is not None:
                return False
            self._reserved += estimate_usd
            return True

    def settle(self, estimate_usd: float, actual_usd: float) -> None:
        with self._lock:
            self._reserved -= estimate_usd
            self.spent_usd += actual_usd
