"""`EchoModule`: how the Echo provider enters a Batchery application.

The convention every provider module follows: `INFO` describes it without a connection,
`exports = ("provider",)`, `for_root(base_url=..., api_key=...)` configures it (options given
there win over `ECHO_API_KEY` and `ECHO_BASE_URL`), and `emulator(options)` returns an emulator
of its API for tests, demos and Batchery's conformance kit.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

import aiohttp
from batchery.modules import Module
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions, ProviderInfo
from dependency_injector import containers, providers

from batchery_echo._provider import EchoOptions, EchoProvider
from batchery_echo.emulator import EchoEmulator

__all__ = ["EchoModule", "options_from"]


def options_from(given: Mapping[str, object]) -> EchoOptions:
    """`for_root`'s options over the environment's."""
    key = given.get("api_key") or os.environ.get("ECHO_API_KEY")
    base_url = given.get("base_url") or os.environ.get("ECHO_BASE_URL")
    defaults = EchoOptions()
    return EchoOptions(
        base_url=str(base_url) if base_url else defaults.base_url,
        api_key=key if isinstance(key, Secret) else Secret(str(key)) if key else None,
    )


async def open_session(options: EchoOptions) -> AsyncIterator[aiohttp.ClientSession]:
    session = aiohttp.ClientSession()
    try:
        yield session
    finally:
        await session.close()


class EchoModule(Module):
    name = "echo"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = EchoProvider.INFO

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        settings = providers.Singleton(options_from, options)
        session = providers.Resource(open_session, settings)
        provider = providers.Singleton(EchoProvider, settings, session)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> EchoEmulator:
        return EchoEmulator(options)
