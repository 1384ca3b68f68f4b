"""Realtime rate limits per emulated minute, reported in Anthropic's `anthropic-ratelimit-*`.

Requests and input tokens are limited (a full window answers 429 `rate_limit_error` with
`retry-after`); output tokens are counted after the answer and only reported. `tokens-*` sums
the input and output limits and remainders, its remainder rounded to the nearest thousand as
Anthropic rounds it, and resets with the later of the two. Reset times are RFC 3339 instants in
real wall-clock time, since that is what a client compares them with.
"""

from __future__ import annotations

import math
import time

from batchery.emulator import RateDecision, RateWindow, ScaledClock

from batchery_anthropic.emulator._http import rfc3339

__all__ = [
    "INPUT_TOKENS_PER_MIN",
    "OUTPUT_TOKENS_PER_MIN",
    "REQUESTS_PER_MIN",
    "Limits",
    "rate_headers",
]

REQUESTS_PER_MIN = 4_000
INPUT_TOKENS_PER_MIN = 2_000_000
OUTPUT_TOKENS_PER_MIN = 400_000
_UNCOUNTED = 10**12


class Limits:
    """The two windows one emulator keeps: requests with input tokens, and output tokens."""

    def __init__(
        self,
        clock: ScaledClock,
        *,
        requests_per_min: int | None = None,
        input_tokens_per_min: int | None = None,
    ) -> None:
        self.input = RateWindow(
            clock,
            requests_per_min=requests_per_min or REQUESTS_PER_MIN,
            tokens_per_min=input_tokens_per_min or INPUT_TOKENS_PER_MIN,
        )
        self.output = RateWindow(
            clock, requests_per_min=_UNCOUNTED, tokens_per_min=OUTPUT_TOKENS_PER_MIN
        )


def rate_headers(sent: RateDecision, produced: RateDecision) -> dict[str, str]:
    """The twelve `anthropic-ratelimit-*` headers, and `retry-after` when `sent` was refused."""
    now = time.time()
    groups = {
        "requests": (sent.limit_requests, sent.remaining_requests, sent.reset_requests_s),
        "input-tokens": (sent.limit_tokens, sent.remaining_tokens, sent.reset_tokens_s),
        "output-tokens": (
            produced.limit_tokens,
            produced.remaining_tokens,
            produced.reset_tokens_s,
        ),
        "tokens": (
            sent.limit_tokens + produced.limit_tokens,
            round((sent.remaining_tokens + produced.remaining_tokens) / 1000) * 1000,
            max(sent.reset_tokens_s, produced.reset_tokens_s),
        ),
    }
    headers: dict[str, str] = {}
    for group, (limit, remaining, reset_s) in groups.items():
        headers[f"anthropic-ratelimit-{group}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{group}-remaining"] = str(remaining)
        headers[f"anthropic-ratelimit-{group}-reset"] = rfc3339(now + reset_s)
    if not sent.allowed:
        headers["retry-after"] = str(max(1, math.ceil(sent.retry_after_s)))
    return headers
