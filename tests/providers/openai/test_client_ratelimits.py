"""OpenAI's rate-limit headers, read for the shared limiter."""

from __future__ import annotations

import pytest
from batchery.spi import RateLimitState
from batchery_openai._ratelimits import parse_duration, rate_limit_state


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("12ms", 0.012), ("1.5s", 1.5), ("6m0s", 360.0), ("1h2m3s", 3723.0), ("0s", 0.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5", "1x", "1s later"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_headers_become_a_state() -> None:
    state = rate_limit_state(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-limit-tokens": "150000",
            "x-ratelimit-remaining-tokens": "149984",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )

    assert state == RateLimitState(
        limit_requests=60,
        remaining_requests=59,
        reset_requests_s=1.0,
        limit_tokens=150000,
        remaining_tokens=149984,
        reset_tokens_s=360.0,
    )


def test_no_headers_no_state() -> None:
    assert rate_limit_state({"content-type": "application/json"}) is None
    assert rate_limit_state({"x-ratelimit-limit-requests": "many"}) is None


async def test_the_provider_reports_headers_to_its_observers() -> None:
    from batchery.model import LlmRequest, Message
    from batchery.secrets import Secret
    from batchery.spi import EmulatorOptions, ReportsRateLimits
    from batchery_openai import OpenAIOptions, OpenAIProvider, create_session
    from batchery_openai.emulator import OpenAIEmulator

    seen: list[tuple[str | None, RateLimitState]] = []
    async with OpenAIEmulator(EmulatorOptions(requests_per_min=50)) as emulator:
        options = OpenAIOptions(api_key=Secret("sk-test"), base_url=emulator.base_url)
        async with create_session(options) as session:
            provider = OpenAIProvider(options, session)
            assert isinstance(provider, ReportsRateLimits)
            provider.observe_rate_limits(lambda model, state: seen.append((model, state)))
            await provider.call(
                LlmRequest(custom_id="a", model="gpt-4o-mini", messages=(Message("user", "hi"),))
            )

    [(model, state)] = seen
    assert model == "gpt-4o-mini"
    assert (state.limit_requests, state.remaining_requests) == (50, 49)
