"""Requests- and tokens-per-minute limits over the emulated clock, for any provider's emulator.

Each provider spells the outcome in its own headers; this module only counts. Reset times are
real seconds, since that is how long a client waits.
"""

from __future__ import annotations

import msgspec

from batchery.emulator._clock import ScaledClock

__all__ = ["RateDecision", "RateWindow"]

_WINDOW_S = 60.0


class RateDecision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    limit_requests: int
    remaining_requests: int
    limit_tokens: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float

    @property
    def retry_after_s(self) -> float:
        return max(self.reset_requests_s, self.reset_tokens_s)


class RateWindow:
    """Requests and tokens spent in the current emulated minute."""

    def __init__(self, clock: ScaledClock, *, requests_per_min: int, tokens_per_min: int) -> None:
        if requests_per_min < 1 or tokens_per_min < 1:
            raise ValueError("rate limits must be positive")
        self._clock = clock
        self._rpm = requests_per_min
        self._tpm = tokens_per_min
        self._window = -1
        self._requests = 0
        self._tokens = 0

    def take(self, tokens: int) -> RateDecision:
        """Spend one request and `tokens`; nothing is spent when the window is full."""
        now = self._clock.now()
        window = int(now // _WINDOW_S)
        if window != self._window:
            self._window, self._requests, self._tokens = window, 0, 0
        allowed = self._requests < self._rpm and self._tokens + tokens <= self._tpm
        if allowed:
            self._requests += 1
            self._tokens += tokens
        reset = self._clock.real_seconds((window + 1) * _WINDOW_S - now)
        return RateDecision(
            allowed=allowed,
            limit_requests=self._rpm,
            remaining_requests=self._rpm - self._requests,
            limit_tokens=self._tpm,
            remaining_tokens=max(0, self._tpm - self._tokens),
            reset_requests_s=reset if self._requests else 0.0,
            reset_tokens_s=reset if self._tokens else 0.0,
        )
