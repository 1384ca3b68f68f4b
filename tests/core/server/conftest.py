"""A real progress server on loopback, wired to a booted application and an OpenAI emulator.

Tokens: `acme` and `globex` are tenants; `synthetic_run` makes a run whose events the test
emits itself, so the feed's timing is under the test's control.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from batchery.app import build_application
from batchery.events import ModeChosen, RunStarted
from batchery.model import Job, JobStatus, LlmRequest, Message, Mode
from batchery.modules import Application
from batchery.server.app import create_app
from batchery.server.config import ServerConfig, hash_token
from batchery.server.owners import acting_for
from batchery.server.serving import RunningServer, serve_in_background
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

TOKENS = {"acme": "tok-acme-0123456789abcdef", "globex": "tok-globex-0123456789abcdef"}
ORIGIN = "http://page.test"

FAST = Settings(
    poll_interval_s=0.05, poll_backoff=1.0, poll_max_interval_s=0.05, reconcile_grace_s=0.05
)


class Served(msgspec.Struct):
    app: Application
    service: BatchLlmService
    server: RunningServer
    config: ServerConfig

    @property
    def url(self) -> str:
        return self.server.url

    def ws_url(self, run_id: str) -> str:
        return f"{self.url}/api/runs/{run_id}/events"


ServerFactory = Callable[..., AbstractAsyncContextManager[Served]]


def bearer(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[tenant]}"}


def server_config(**changes: object) -> ServerConfig:
    base = ServerConfig(
        tokens={hash_token(token): tenant for tenant, token in TOKENS.items()},
        allowed_origins=(ORIGIN,),
        poll_interval_s=0.2,
        flush_interval_s=0.01,
    )
    return msgspec.structs.replace(base, **changes)


@pytest.fixture
def open_server(tmp_path: Path) -> ServerFactory:
    """Serve a fresh application; keyword arguments change the `ServerConfig`."""

    @asynccontextmanager
    async def open_it(
        store: Path | None = None, time_scale: float = 2000.0, **changes: object
    ) -> AsyncIterator[Served]:
        options = EmulatorOptions(time_scale=time_scale, seed=7)
        async with OpenAIEmulator(options, api_key="sk-test-server") as emulator:
            settings = msgspec.structs.replace(FAST, store=str(store or tmp_path / "jobs.db"))
            app = await build_application(
                settings,
                only=["openai"],
                provider_options={
                    "openai": {"base_url": emulator.base_url, "api_key": "sk-test-server"}
                },
            )
            try:
                service = await app.get("batchery.service", BatchLlmService)
                config = server_config(**changes)
                async with serve_in_background(create_app(config, app)) as server:
                    yield Served(app, service, server, config)
            finally:
                await app.close()

    return open_it


@pytest.fixture
async def served(open_server: ServerFactory) -> AsyncIterator[Served]:
    async with open_server() as running:
        yield running


def requests(count: int) -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"r{n}", model="gpt-4o-mini", messages=(Message("user", f"hi {n}"),))
        for n in range(count)
    ]


async def start_run(
    service: BatchLlmService, tenant: str, count: int = 30, mode: Mode = Mode.BATCH
) -> tuple[str, asyncio.Task[object]]:
    """Start a real run for `tenant`; its id once its first event is out, and its task."""
    async with service.bus.subscribe() as queue:
        with acting_for(tenant):
            task: asyncio.Task[object] = asyncio.create_task(
                service.run(requests(count), mode=mode)
            )
        first = await asyncio.wait_for(queue.get(), timeout=10)
    return first.run_id, task


async def synthetic_run(service: BatchLlmService, tenant: str, total: int = 100) -> str:
    """A run row whose events the test emits; its first two events are already out."""
    run_id = f"run_t{time.monotonic_ns():x}"
    now = time.time()
    job = Job(
        id=run_id,
        provider="openai",
        model="gpt-4o-mini",
        mode=Mode.REALTIME,
        status=JobStatus.RUNNING,
        total=total,
        created_at=now,
        updated_at=now,
    )
    await service.store.create_job(job, [], [])
    with acting_for(tenant):
        await service.bus.emit(run_id, ModeChosen, mode="realtime", reason="test")
        await service.bus.emit(
            run_id, RunStarted, provider="openai", model="gpt-4o-mini", mode="realtime", total=total
        )
    return run_id
