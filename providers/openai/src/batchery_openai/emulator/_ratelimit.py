"""Realtime rate limits per emulated minute, reported in OpenAI's `x-ratelimit-*` headers.

The limits are OpenAI's top usage tier for a small model (`REQUESTS_PER_MIN`,
`TOKENS_PER_MIN`), so well-behaved tests never meet them, while a client that floods the
emulator at `time_scale=1` does and gets a 429. Reset durations and `retry-after` are given in
real time, since that is how long the client waits.
"""

from __future__ import annotations

import math

from batchery.emulator import RateDecision

__all__ = ["REQUESTS_PER_MIN", "TOKENS_PER_MIN", "go_duration", "rate_headers"]

REQUESTS_PER_MIN = 30_000
TOKENS_PER_MIN = 150_000_000


def go_duration(seconds: float) -> str:
    """A duration in Go's spelling, as OpenAI writes it: `12ms`, `1.5s`, `6m0s`."""
    if seconds < 1.0:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60.0:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s"


def rate_headers(decision: RateDecision) -> dict[str, str]:
    """OpenAI's `x-ratelimit-*` headers for a decision, with `retry-after` on a refusal."""
    headers = {
        "x-ratelimit-limit-requests": str(decision.limit_requests),
        "x-ratelimit-limit-tokens": str(decision.limit_tokens),
        "x-ratelimit-remaining-requests": str(decision.remaining_requests),
        "x-ratelimit-remaining-tokens": str(decision.remaining_tokens),
        "x-ratelimit-reset-requests": go_duration(decision.reset_requests_s),
        "x-ratelimit-reset-tokens": go_duration(decision.reset_tokens_s),
    }
    if not decision.allowed:
        headers["retry-after"] = str(max(1, math.ceil(decision.retry_after_s)))
    return headers
