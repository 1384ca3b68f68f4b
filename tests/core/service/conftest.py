"""A booted application on a fresh store, wired to an OpenAI emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from batchery.app import build_application
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

KEY = "sk-test-service"

ServiceFactory = Callable[..., AbstractAsyncContextManager[BatchLlmService]]


@pytest.fixture
def make_service(tmp_path: Path) -> ServiceFactory:
    """Open an emulator with `faults` and a service on it; settings may be overridden."""

    @asynccontextmanager
    async def open_service(faults: str = "", **overrides: object) -> AsyncIterator[BatchLlmService]:
        options = EmulatorOptions(time_scale=2000.0, seed=3, faults=faults)
        async with OpenAIEmulator(options, api_key=KEY) as emulator:
            settings = Settings(
                store=str(tmp_path / "jobs.db"),
                poll_interval_s=0.05,
                poll_backoff=1.0,
                poll_max_interval_s=0.05,
                reconcile_grace_s=0.05,
            )
            app = await build_application(
                msgspec.structs.replace(settings, **overrides),
                only=["openai"],
                provider_options={"openai": {"base_url": emulator.base_url, "api_key": KEY}},
            )
            try:
                yield await app.get("batchery.service")
            finally:
                await app.close()

    return open_service


@pytest.fixture
async def service(make_service: ServiceFactory) -> AsyncIterator[BatchLlmService]:
    async with make_service() as opened:
        yield opened
