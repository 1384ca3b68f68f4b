"""A booted application (optionally with node plugins) on a fresh OpenAI emulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from batchery.app import build_application
from batchery.modules import Application
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

KEY = "sk-test-langgraph"
FAST = Settings(
    poll_interval_s=0.05, poll_backoff=1.0, poll_max_interval_s=0.05, reconcile_grace_s=0.05
)


class Booted(msgspec.Struct):
    app: Application
    service: BatchLlmService
    bus: ProgressBus
    emulator: OpenAIEmulator


BootFactory = Callable[..., AbstractAsyncContextManager[Booted]]


@pytest.fixture
def boot(tmp_path: Path) -> BootFactory:
    """Open an emulator with `faults` and an app on its own store with the given nodes.

    `overrides` go to `build_application` (a node's settings, say); other keywords are settings.
    """

    @asynccontextmanager
    async def open_booted(
        *,
        store: str = "jobs.db",
        nodes: Sequence[str] = (),
        overrides: Mapping[str, object] | None = None,
        faults: str = "",
        **settings: object,
    ) -> AsyncIterator[Booted]:
        options = EmulatorOptions(time_scale=2000.0, faults=faults, seed=7)
        async with OpenAIEmulator(options, api_key=KEY) as emulator:
            chosen = msgspec.structs.replace(FAST, store=str(tmp_path / store), **settings)
            app = await build_application(
                chosen,
                only=["openai"],
                nodes=nodes,
                provider_options={"openai": {"base_url": emulator.base_url, "api_key": KEY}},
                overrides=overrides,
            )
            try:
                service = await app.get("batchery.service", BatchLlmService)
                yield Booted(app, service, service.bus, emulator)
            finally:
                await app.close()

    return open_booted
