"""Graph nodes booted in a real application against the OpenAI emulator over loopback HTTP."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from batchery.app import build_application
from batchery.events import RunEvent
from batchery.model import LlmRequest, LlmResult
from batchery.modules import Application
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

FAST = Settings(
    poll_interval_s=0.05, poll_backoff=1.0, poll_max_interval_s=0.05, reconcile_grace_s=0.05
)
API_KEY = "sk-test-nodes"


class Nodes:
    """A running application with the node plugins, its service and bus, and the emulator."""

    def __init__(
        self, app: Application, service: BatchLlmService, bus: ProgressBus, emulator: OpenAIEmulator
    ) -> None:
        self.app = app
        self.service = service
        self.bus = bus
        self.emulator = emulator
        self.events: list[RunEvent] = []

    async def node(self, name: str) -> Any:
        return await self.app.get(f"{name}.node")

    async def run(self, name: str, state: Mapping[str, Any]) -> dict[str, Any]:
        """Call the node and record every event published meanwhile, in order, in `events`."""
        node = await self.node(name)
        async with self.bus.subscribe() as queue:
            update: dict[str, Any] = await node(state)
            while not queue.empty():
                self.events.append(queue.get_nowait())
        return update

    async def requests(self, job_id: str) -> list[LlmRequest]:
        return [r async for r in self.service.store.requests(job_id)]

    async def results(self, job_id: str) -> list[LlmResult]:
        return [r async for r in self.service.get_batch_results(job_id)]


NodesFactory = Callable[..., AbstractAsyncContextManager[Nodes]]


@pytest.fixture
def nodes(tmp_path: Path) -> NodesFactory:
    """Open the emulator with `faults` and an app with `names`; each opening gets a new store.

    `store` reuses a given store file; `time_scale` slows the emulator's batches when a test
    needs to act while one is in flight; `port` serves the emulator where an earlier opening
    did, so the store's cache and history (kept per endpoint) apply again.

    `overrides` go to `build_application` (e.g. `{"verify.settings": VerifySettings(...)}`);
    other keyword arguments replace core settings.
    """
    stores = itertools.count()

    @asynccontextmanager
    async def open_nodes(
        faults: str = "",
        names: Sequence[str] = ("infer-atoms", "verify"),
        overrides: Mapping[str, object] | None = None,
        store: Path | None = None,
        time_scale: float = 2000.0,
        port: int = 0,
        **settings: object,
    ) -> AsyncIterator[Nodes]:
        options = EmulatorOptions(time_scale=time_scale, faults=faults, seed=7)
        path = store or tmp_path / f"jobs-{next(stores)}.db"
        emulator = OpenAIEmulator(options, api_key=API_KEY)
        await emulator.start(port=port)
        async with emulator:
            chosen = msgspec.structs.replace(FAST, store=str(path), **settings)
            app = await build_application(
                chosen,
                only=["openai"],
                nodes=list(names),
                provider_options={"openai": {"base_url": emulator.base_url, "api_key": API_KEY}},
                overrides=overrides,
            )
            try:
                service = await app.get("batchery.service", BatchLlmService)
                bus = await app.get("batchery.bus", ProgressBus)
                yield Nodes(app, service, bus, emulator)
            finally:
                await app.close()

    return open_nodes


def sample_items(count: int, prefix: str = "R") -> list[dict[str, str]]:
    """`count` distinct short requirements with ids `{prefix}-0`, `{prefix}-1`, ..."""
    return [
        {
            "id": f"{prefix}-{i}",
            "kind": "requirement",
            "text": f"Rule {prefix}{i}: an order of {i + 1} items ships within {i % 5 + 1} days.",
        }
        for i in range(count)
    ]
