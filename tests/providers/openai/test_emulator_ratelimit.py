"""OpenAI's spelling of rate-limit state: `x-ratelimit-*` headers and `retry-after`."""

from __future__ import annotations

from batchery.emulator import RateWindow, ScaledClock
from batchery_openai.emulator._ratelimit import go_duration, rate_headers


def test_a_refusal_carries_retry_after_and_zero_remaining() -> None:
    window = RateWindow(ScaledClock(10, start=600.0), requests_per_min=1, tokens_per_min=1000)
    window.take(10)

    headers = rate_headers(window.take(10))

    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-tokens"] == "1000"
    assert 1 <= int(headers["retry-after"]) <= 6


def test_an_allowed_call_carries_no_retry_after() -> None:
    window = RateWindow(ScaledClock(1, start=0.0), requests_per_min=5, tokens_per_min=50)

    headers = rate_headers(window.take(5))

    assert "retry-after" not in headers
    assert headers["x-ratelimit-remaining-tokens"] == "45"


def test_go_durations() -> None:
    assert go_duration(0.0125) == "13ms"
    assert go_duration(1.5) == "1.5s"
    assert go_duration(360) == "6m0s"
