"""One rate limiter per provider account and model, shared by every caller in the process.

It learns from the provider's rate-limit headers: the requests (and tokens) left in the window
are spread evenly over the time until the window resets, so a run uses its whole allowance
without meeting the wall. A `retry-after` pauses every caller of that account and model at
once, not only the one that was refused. Before any header is seen, only concurrency limits.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from batchery.spi import Provider, RateLimitState, ReportsRateLimits

__all__ = ["LimiterRegistry", "RateLimiter"]

_LATENCY_WEIGHT = 0.2


class RateLimiter:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._interval = 0.0
        self._paused_until = 0.0
        self._tokens_per_request = 0.0
        self._limit_requests: int | None = None
        self._latency_s: float | None = None
        self._latency_spread_s = 0.0

    @property
    def requests_per_s(self) -> float | None:
        """The request rate the provider allows, once a header has said (per-minute limits)."""
        return None if self._limit_requests is None else self._limit_requests / 60.0

    @property
    def latency_s(self) -> float | None:
        """A moving average of realtime call latency, once calls have been made."""
        return self._latency_s

    @property
    def cautious_latency_s(self) -> float | None:
        """The average latency plus twice its moving mean deviation: a margin learned from how
        much this account's calls have varied, for estimates that must not come out short."""
        if self._latency_s is None:
            return None
        return self._latency_s + 2 * self._latency_spread_s

    async def acquire(self) -> None:
        """Wait for this caller's turn: a slot one pacing interval after the last one handed out.

        Each caller reserves its own slot at once and sleeps until it, so many waiters cost one
        wake-up each; a pause announced meanwhile still holds them.
        """
        slot = max(self._clock(), self._next_slot, self._paused_until)
        self._next_slot = slot + self._interval
        while (wait := max(slot, self._paused_until) - self._clock()) > 0:
            await self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (with a little jitter so they do not return at once)."""
        until = self._clock() + seconds * random.uniform(1.0, 1.1)
        self._paused_until = max(self._paused_until, until)

    def observe(self, state: RateLimitState, *, inflight: int = 0) -> None:
        """Re-pace from what the headers say is left, counting calls already on their way."""
        if state.limit_requests is not None:
            self._limit_requests = state.limit_requests
        intervals = [0.0]
        if state.remaining_requests is not None and state.reset_requests_s:
            left = max(1, state.remaining_requests - inflight)
            intervals.append(state.reset_requests_s / left)
        if (
            state.remaining_tokens is not None
            and state.reset_tokens_s
            and self._tokens_per_request > 0
        ):
            left_calls = state.remaining_tokens / self._tokens_per_request - inflight
            intervals.append(state.reset_tokens_s / max(1.0, left_calls))
        self._interval = max(intervals)

    def record(self, latency_s: float, tokens: int) -> None:
        """Fold one finished call into the latency and tokens-per-call averages."""
        if self._latency_s is None:
            self._latency_s = latency_s
            self._tokens_per_request = float(tokens)
            return
        deviation = abs(latency_s - self._latency_s)
        self._latency_spread_s += _LATENCY_WEIGHT * (deviation - self._latency_spread_s)
        self._latency_s += _LATENCY_WEIGHT * (latency_s - self._latency_s)
        self._tokens_per_request += _LATENCY_WEIGHT * (tokens - self._tokens_per_request)


class LimiterRegistry:
    """Hands out the limiter for (provider account, model) and feeds it the provider's headers."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[int, str | None], RateLimiter] = {}
        self._inflight: dict[tuple[int, str | None], int] = {}
        self._watched: set[int] = set()

    def limiter(self, provider: Provider, model: str | None) -> RateLimiter:
        account = id(provider)
        if account not in self._watched and isinstance(provider, ReportsRateLimits):
            self._watched.add(account)
            provider.observe_rate_limits(lambda m, state: self._observe(account, m, state))
        return self._limiters.setdefault((account, model), RateLimiter())

    def started(self, provider: Provider, model: str | None) -> None:
        key = (id(provider), model)
        self._inflight[key] = self._inflight.get(key, 0) + 1

    def finished(self, provider: Provider, model: str | None) -> None:
        key = (id(provider), model)
        self._inflight[key] = max(0, self._inflight.get(key, 0) - 1)

    def _observe(self, account: int, model: str | None, state: RateLimitState) -> None:
        limiter = self._limiters.setdefault((account, model), RateLimiter())
        limiter.observe(state, inflight=self._inflight.get((account, model), 0))
