"""Realtime rate limits per emulated minute, reported in OpenAI's `x-ratelimit-*` headers.

The limits are OpenAI's top usage tier for a small model (`REQUESTS_PER_MIN`,
`TOKENS_PER_MIN`), so well-behaved tests never meet them, while a client that floods the
emulator at `time_scale=1` does and gets a 429. Reset durations and `retry-after` are given in
real time, since that is how long the client waits.
"""

from __future__ import annotations

import math

from batchery.emulator import ScaledClock

__all__ = ["REQUESTS_PER_MIN", "TOKENS_PER_MIN", "RateWindow", "go_duration"]

REQUESTS_PER_MIN = 30_000
TOKENS_PER_MIN = 150_000_000
_WINDOW_S = 60.0


def go_duration(seconds: float) -> str:
    """A duration in Go's spelling, as OpenAI writes it: `12ms`, `1.5s`, `6m0s`."""
    if seconds < 1.0:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60.0:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s"


class RateWindow:
    """Requests and tokens spent in the current emulated minute."""

    def __init__(
        self,
        clock: ScaledClock,
        *,
        requests_per_min: int = REQUESTS_PER_MIN,
        tokens_per_min: int = TOKENS_PER_MIN,
    ) -> None:
        self._clock = clock
        self._rpm = requests_per_min
        self._tpm = tokens_per_min
        self._window = -1
        self._requests = 0
        self._tokens = 0

    def take(self, tokens: int) -> tuple[bool, dict[str, str]]:
        """Spend one request and `tokens`; False (nothing spent) when the window is full."""
        now = self._clock.now()
        window = int(now // _WINDOW_S)
        if window != self._window:
            self._window, self._requests, self._tokens = window, 0, 0
        allowed = self._requests < self._rpm and self._tokens + tokens <= self._tpm
        if allowed:
            self._requests += 1
            self._tokens += tokens
        reset = self._clock.real_seconds((window + 1) * _WINDOW_S - now)
        headers = {
            "x-ratelimit-limit-requests": str(self._rpm),
            "x-ratelimit-limit-tokens": str(self._tpm),
            "x-ratelimit-remaining-requests": str(self._rpm - self._requests),
            "x-ratelimit-remaining-tokens": str(max(0, self._tpm - self._tokens)),
            "x-ratelimit-reset-requests": go_duration(reset if self._requests else 0.0),
            "x-ratelimit-reset-tokens": go_duration(reset if self._tokens else 0.0),
        }
        if not allowed:
            headers["retry-after"] = str(max(1, math.ceil(reset)))
        return allowed, headers
