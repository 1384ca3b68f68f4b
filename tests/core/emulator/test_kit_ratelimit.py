"""The kit's rate window: requests and tokens per emulated minute."""

from __future__ import annotations

import pytest
from batchery.emulator import RateWindow, ScaledClock


def test_a_full_window_refuses_until_the_next_minute() -> None:
    clock = ScaledClock(10, start=600.0)
    window = RateWindow(clock, requests_per_min=2, tokens_per_min=1000)

    assert window.take(10).allowed
    second = window.take(10)
    refused = window.take(10)

    assert second.allowed
    assert (second.remaining_requests, second.remaining_tokens) == (0, 980)
    assert not refused.allowed
    assert 0 < refused.retry_after_s <= 6  # a 60 s emulated window is 6 s real at 10x
    clock.advance(60)
    assert window.take(10).allowed


def test_tokens_are_limited_too() -> None:
    window = RateWindow(ScaledClock(1, start=0.0), requests_per_min=100, tokens_per_min=50)

    assert window.take(40).allowed
    assert not window.take(20).allowed


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateWindow(ScaledClock(1), requests_per_min=0, tokens_per_min=1)
