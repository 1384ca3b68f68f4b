"""The shared limiter paces from rate-limit headers and pauses everyone on retry-after."""

from __future__ import annotations

import pytest
from batchery.service.limiter import LimiterRegistry, RateLimiter
from batchery.spi import RateLimitState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_without_headers_calls_are_not_paced() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)

    for _ in range(5):
        await limiter.acquire()

    assert clock.slept == []


async def test_the_remaining_budget_is_spread_until_the_reset() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(
        RateLimitState(limit_requests=600, remaining_requests=100, reset_requests_s=10.0)
    )

    for _ in range(11):
        await limiter.acquire()

    assert clock.now == pytest.approx(1.0)  # 10 intervals of 10 s / 100 requests
    assert limiter.requests_per_s == 10.0


async def test_calls_in_flight_count_against_what_is_left() -> None:
    clock = Clock()
    paced = RateLimiter(clock=clock, sleep=clock.sleep)
    paced.observe(RateLimitState(remaining_requests=12, reset_requests_s=1.0), inflight=10)

    await paced.acquire()
    await paced.acquire()

    assert clock.now == pytest.approx(0.5)


async def test_a_pause_holds_every_caller() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)

    limiter.pause(7.0)
    await limiter.acquire()
    await limiter.acquire()

    assert 7.0 <= clock.now <= 7.7
    assert len(clock.slept) == 1


def test_latency_is_a_moving_average() -> None:
    limiter = RateLimiter()
    limiter.record(1.0, 100)
    limiter.record(2.0, 100)

    assert limiter.latency_s == 1.2


def test_one_limiter_per_account_and_model() -> None:
    registry = LimiterRegistry()
    first, second = object(), object()

    assert registry.limiter(first, "m") is registry.limiter(first, "m")  # type: ignore[arg-type]
    assert registry.limiter(first, "m") is not registry.limiter(second, "m")  # type: ignore[arg-type]
    assert registry.limiter(first, "m") is not registry.limiter(first, "n")  # type: ignore[arg-type]


def test_the_cautious_latency_adds_a_margin_learned_from_how_calls_vary() -> None:
    steady, jumpy = RateLimiter(), RateLimiter()
    assert steady.cautious_latency_s is None
    for latency in (1.0, 1.0, 1.0, 1.0):
        steady.record(latency, tokens=10)
    for latency in (0.2, 1.8, 0.2, 1.8):
        jumpy.record(latency, tokens=10)

    assert steady.cautious_latency_s == pytest.approx(1.0)
    assert jumpy.latency_s is not None
    assert jumpy.cautious_latency_s is not None
    assert jumpy.cautious_latency_s > jumpy.latency_s + 0.5
