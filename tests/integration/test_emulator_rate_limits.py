"""Every emulator that has rate limits enforces the ones it is given, with a real 429."""

from __future__ import annotations

import pytest
from batchery.model import LlmRequest, Message
from batchery.modules import Application
from batchery.plugins import discover_providers
from batchery.spi import EmulatorOptions, Provider


@pytest.mark.parametrize("name", ["openai", "anthropic", "gemini"])
async def test_the_third_call_past_a_two_per_minute_limit_is_refused(name: str) -> None:
    [entry] = [e for e in discover_providers() if e.name == name]
    assert entry.module is not None
    module = entry.module
    emulator = module.emulator(EmulatorOptions(requests_per_min=2))  # type: ignore[attr-defined]
    await emulator.start()
    try:
        app = await Application.create(
            module.for_root(base_url=emulator.base_url, api_key="sk-test-rate")
        )
        try:
            provider: Provider = await app.get(f"{name}.provider")
            request = LlmRequest(custom_id="a", messages=(Message("user", "hi"),))
            results = [await provider.call(request) for _ in range(3)]
        finally:
            await app.close()
    finally:
        await emulator.close()

    assert [r.ok for r in results] == [True, True, False]
    error = results[2].error
    assert error is not None
    assert error.retryable
    assert error.retry_after_s is not None
    assert error.retry_after_s > 0
