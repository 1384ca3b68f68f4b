"""What provider tests open against loopback HTTP, closed at the end of each test.

Every provider's tests start emulators or one-handler servers and point a provider's session at
them; `opened` keeps each one and closes them, newest first (sessions before the servers they
talk to), whatever the test did.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from batchery.app import build_application
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import Emulator

_E = TypeVar("_E", bound=Emulator)

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Opened:
    """Emulators, servers and sessions a test opened; each is closed when the test ends."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack

    async def emulator(self, emulator: _E) -> _E:
        """`emulator`, started."""
        await emulator.start()
        self._stack.push_async_callback(emulator.close)
        return emulator

    async def server(self, app: web.Application) -> TestServer:
        """`app` served on a free loopback port."""
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        self._stack.push_async_callback(server.close)
        return server

    async def answering(self, reply: Reply) -> TestServer:
        """A server that answers every method and path with `reply`."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", reply)
        return await self.server(app)

    def session(self, session: aiohttp.ClientSession) -> aiohttp.ClientSession:
        """`session`, closed before anything opened earlier."""
        self._stack.push_async_callback(session.close)
        return session


@asynccontextmanager
async def service_over(
    emulator: Emulator, provider: str, key: str, settings: Settings
) -> AsyncIterator[BatchLlmService]:
    """The service of an application with only `provider`, pointed at `emulator` with `key`."""
    app = await build_application(
        settings,
        only=[provider],
        provider_options={provider: {"base_url": emulator.base_url, "api_key": key}},
    )
    try:
        service: BatchLlmService = await app.get("batchery.service")
        yield service
    finally:
        await app.close()


def closed_origin() -> str:
    """`http://127.0.0.1:PORT` for a port nothing listens on: a connection to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def opened() -> AsyncIterator[Opened]:
    async with AsyncExitStack() as stack:
        yield Opened(stack)
