"""A booted application wired to a fresh OpenAI emulator over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from batchery.app import build_application
from batchery.modules import Application
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

FAST = Settings(
    poll_interval_s=0.05, poll_backoff=1.0, poll_max_interval_s=0.05, reconcile_grace_s=0.05
)


class Harness(msgspec.Struct):
    app: Application
    service: BatchLlmService
    emulator: OpenAIEmulator


HarnessFactory = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture
def harness(tmp_path: Path) -> HarnessFactory:
    """Open an emulator with `faults` and an app on the test's store; settings may be
    overridden. `beside` reaches the emulator another harness opened instead, as a second
    process on the same endpoint would (jobs and answers belong to their endpoint)."""

    @asynccontextmanager
    async def app_at(
        emulator: OpenAIEmulator, settings: dict[str, object]
    ) -> AsyncIterator[Harness]:
        chosen = msgspec.structs.replace(FAST, store=str(tmp_path / "jobs.db"), **settings)
        app = await build_application(
            chosen,
            only=["openai"],
            provider_options={
                "openai": {"base_url": emulator.base_url, "api_key": "sk-test-harness"}
            },
        )
        try:
            service = await app.get("batchery.service")
            yield Harness(app, service, emulator)
        finally:
            await app.close()

    @asynccontextmanager
    async def open_harness(
        faults: str = "",
        time_scale: float = 2000.0,
        beside: Harness | None = None,
        **settings: object,
    ) -> AsyncIterator[Harness]:
        if beside is not None:
            async with app_at(beside.emulator, settings) as opened:
                yield opened
            return
        options = EmulatorOptions(time_scale=time_scale, faults=faults, seed=7)
        async with (
            OpenAIEmulator(options, api_key="sk-test-harness") as emulator,
            app_at(emulator, settings) as opened,
        ):
            yield opened

    return open_harness
