"""Read OpenAI's `x-ratelimit-*` headers into the neutral `RateLimitState`.

Reset times come as Go-style durations (`12ms`, `1.5s`, `6m0s`, `1h2m3s`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from batchery.spi import RateLimitState

__all__ = ["parse_duration", "rate_limit_state"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration, or None when it is not one."""
    parts = _PART.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _seconds(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    return parse_duration(value) if value is not None else None


def rate_limit_state(headers: Mapping[str, str]) -> RateLimitState | None:
    """What the headers say, or None when the response carried none of them."""
    state = RateLimitState(
        limit_requests=_int(headers, "x-ratelimit-limit-requests"),
        remaining_requests=_int(headers, "x-ratelimit-remaining-requests"),
        reset_requests_s=_seconds(headers, "x-ratelimit-reset-requests"),
        limit_tokens=_int(headers, "x-ratelimit-limit-tokens"),
        remaining_tokens=_int(headers, "x-ratelimit-remaining-tokens"),
        reset_tokens_s=_seconds(headers, "x-ratelimit-reset-tokens"),
    )
    return None if state == RateLimitState() else state
