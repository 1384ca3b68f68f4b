"""`BatcheryPlugin`: hands the running application's objects to Litestar's DI.

The application (the module container) is started in the server's lifespan, in the server's
event loop, and closed when the server stops, unless the caller passed one it already runs.
Handlers receive what they need by name (`service: NamedDependency[BatchLlmService]`); the
providers behind them are wrapped in plain functions, since Litestar cannot introspect
dependency-injector's compiled providers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.plugins import InitPlugin
from redis.asyncio import Redis

from batchery.modules import Application
from batchery.progress import ProgressBus
from batchery.server.auth import AUTHENTICATOR, Authenticator, Caller
from batchery.server.config import ServerConfig
from batchery.server.feed import FeedRegistry
from batchery.server.limits import ConnectionLimits
from batchery.server.ops import HealthCheck
from batchery.server.owners import RunOwners
from batchery.server.publisher import ChannelsPublisher
from batchery.server.snapshots import Snapshots
from batchery.server.submissions import RunSubmissions
from batchery.server.tickets import MemoryTickets, RedisTickets, Tickets
from batchery.server.websocket import FeedGate
from batchery.service import BatchLlmService

__all__ = ["ApplicationSource", "BatcheryPlugin"]

ApplicationSource = Application | Callable[[], Awaitable[Application]]
"""A running application (the caller closes it) or a factory (the server closes what it made)."""


class _Running(msgspec.Struct):
    service: BatchLlmService
    owners: RunOwners
    snapshots: Snapshots
    tickets: Tickets
    feeds: FeedRegistry
    gate: FeedGate
    health: HealthCheck
    submissions: RunSubmissions


class BatcheryPlugin(InitPlugin):
    def __init__(
        self,
        config: ServerConfig,
        source: ApplicationSource,
        channels: ChannelsPlugin,
        redis: Redis | None,
    ) -> None:
        self._config = config
        self._source = source
        self._channels = channels
        self._redis = redis
        self._auth = Authenticator(config.tokens, config.allowed_origins)
        self._limits = ConnectionLimits(
            total=config.max_connections,
            per_tenant=config.max_per_tenant,
            per_ip=config.max_per_ip,
        )
        self._running: _Running | None = None

    @property
    def running(self) -> _Running:
        if self._running is None:
            raise RuntimeError("the server is not running")
        return self._running

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        getters: dict[str, Callable[[], object]] = {
            "service": lambda: self.running.service,
            "bus": lambda: self.running.service.bus,
            "owners": lambda: self.running.owners,
            "snapshots": lambda: self.running.snapshots,
            "tickets": lambda: self.running.tickets,
            "feed_gate": lambda: self.running.gate,
            "health_check": lambda: self.running.health,
            "submissions": lambda: self.running.submissions,
        }
        for name, getter in getters.items():
            app_config.dependencies[name] = Provide(getter, sync_to_thread=False)
        app_config.dependencies["caller"] = Provide(self._caller)
        app_config.state[AUTHENTICATOR] = self._auth
        app_config.lifespan.append(self._lifespan)
        app_config.signature_namespace.update(
            BatchLlmService=BatchLlmService,
            ProgressBus=ProgressBus,
            RunOwners=RunOwners,
            Snapshots=Snapshots,
            Tickets=Tickets,
            FeedGate=FeedGate,
            HealthCheck=HealthCheck,
            Caller=Caller,
            RunSubmissions=RunSubmissions,
        )
        return app_config

    async def _caller(self, request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
        return await self._auth.caller(request)

    def _lifespan(self, app: Litestar) -> AbstractAsyncContextManager[None]:
        return self._run()

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[None]:
        config = self._config
        source = self._source
        owners = RunOwners(config.owners_path or ":memory:", config.default_tenant)
        made: Application | None = None
        try:
            if isinstance(source, Application):
                application = source
            else:
                application = made = await source()
            service = await application.get("batchery.service", BatchLlmService)
            await owners.open()
            self._running = self._assemble(service, owners)
            publisher = ChannelsPublisher(self._channels, owners)
            service.bus.add_sink(publisher)
            try:
                yield
            finally:
                service.bus.remove_sink(publisher)
                await self.running.feeds.close()
                self._running = None
        finally:
            await owners.close()
            if made is not None:
                await made.close()
            if self._redis is not None:
                await self._redis.aclose()

    def _assemble(self, service: BatchLlmService, owners: RunOwners) -> _Running:
        config = self._config
        store = service.store
        tickets: Tickets = (
            RedisTickets(self._redis, config.ticket_ttl_s)
            if self._redis is not None
            else MemoryTickets(config.ticket_ttl_s)
        )
        feeds = FeedRegistry(
            store,
            self._channels,
            ring_size=config.ring_size,
            poll_interval_s=config.poll_interval_s,
            flush_interval_s=config.flush_interval_s,
            frames_per_s=config.frames_per_s,
        )
        gate = FeedGate(
            config=config,
            store=store,
            auth=self._auth,
            tickets=tickets,
            owners=owners,
            feeds=feeds,
            limits=self._limits,
        )

        async def probe_store() -> object:
            return await store.list_jobs(limit=1)

        redis = self._redis
        probe_channels = None if redis is None else redis.ping
        return _Running(
            service=service,
            owners=owners,
            snapshots=Snapshots(store),
            tickets=tickets,
            feeds=feeds,
            gate=gate,
            health=HealthCheck(probe_store, probe_channels),
            submissions=RunSubmissions(config.store_url),
        )
