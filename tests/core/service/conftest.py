"""A booted application on a fresh store, wired to an OpenAI emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from batchery.app import build_application
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

KEY = "sk-test-service"


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator(EmulatorOptions(time_scale=2000.0, seed=3), api_key=KEY) as running:
        yield running


@pytest.fixture
async def service(tmp_path: Path, emulator: OpenAIEmulator) -> AsyncIterator[BatchLlmService]:
    settings = Settings(
        store=str(tmp_path / "jobs.db"),
        poll_interval_s=0.05,
        poll_backoff=1.0,
        poll_max_interval_s=0.05,
        reconcile_grace_s=0.05,
    )
    app = await build_application(
        settings,
        only=["openai"],
        provider_options={"openai": {"base_url": emulator.base_url, "api_key": KEY}},
    )
    try:
        yield await app.get("batchery.service")
    finally:
        await app.close()
