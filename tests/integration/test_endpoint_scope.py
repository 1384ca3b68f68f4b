"""A job belongs to the endpoint it was created for: a service that reaches the provider
elsewhere refuses to resume or cancel it rather than send its requests to the wrong host."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchery.app import build_application
from batchery.model import LlmRequest, Message, Mode
from batchery.service import EndpointMismatchError
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

KEY = "sk-test-scope"


async def test_a_job_is_resumed_and_cancelled_only_at_its_own_endpoint(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "jobs.db"), poll_interval_s=0.05)
    requests = [
        LlmRequest(custom_id=f"c{i}", model="gpt-4o-mini", messages=(Message("user", "hi"),))
        for i in range(3)
    ]
    async with (
        OpenAIEmulator(EmulatorOptions(time_scale=1.0), api_key=KEY) as first,
        OpenAIEmulator(EmulatorOptions(time_scale=1.0), api_key=KEY) as second,
    ):
        first_url = first.base_url
        here = await build_application(
            settings,
            only=["openai"],
            provider_options={"openai": {"base_url": first.base_url, "api_key": KEY}},
        )
        try:
            job = await (await here.get("batchery.service")).submit_batch(requests)
        finally:
            await here.close()
        elsewhere = await build_application(
            settings,
            only=["openai"],
            provider_options={"openai": {"base_url": second.base_url, "api_key": KEY}},
        )
        try:
            service = await elsewhere.get("batchery.service")
            with pytest.raises(EndpointMismatchError, match=first.base_url):
                await service.resume(job.id)
            with pytest.raises(EndpointMismatchError, match=second.base_url):
                await service.cancel_batch(job.id)
            with pytest.raises(EndpointMismatchError):
                await service.rerun(job.id, retry_failed=True)
        finally:
            await elsewhere.close()

    assert job.mode is Mode.BATCH
    assert job.endpoint is not None
    assert (job.endpoint.base_url, job.endpoint.emulated) == (first_url, True)
