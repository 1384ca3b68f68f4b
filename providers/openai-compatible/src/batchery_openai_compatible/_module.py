"""`OpenAICompatibleModule`: how an OpenAI-compatible server enters a Batchery application.

The module is configured like any provider (`for_root(base_url=..., kinds=..., batch=...)`, or
`[providers.openai-compatible]` in the settings file); what the server can do is read from those
options when the application boots and reported by the provider's `info`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from batchery.modules import Module
from batchery.provider_kit import emulator_at, session_resource
from batchery.spi import ProviderInfo
from dependency_injector import containers, providers

from batchery_openai_compatible._options import (
    DEFAULT_INFO,
    PROVIDER,
    openai_options,
    options_from,
    provider_info,
)
from batchery_openai_compatible._provider import OpenAICompatibleProvider

__all__ = ["OpenAICompatibleModule"]


class OpenAICompatibleModule(Module):
    name = PROVIDER
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = DEFAULT_INFO

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        settings = providers.Singleton(options_from, options)
        client = providers.Singleton(openai_options, settings)
        session = providers.Resource(session_resource, client, user_agent="batchery-openai")
        provider = providers.Singleton(
            OpenAICompatibleProvider,
            client,
            session,
            info=providers.Callable(provider_info, settings),
        )

    emulator = emulator_at("batchery_openai.emulator:OpenAIEmulator")
    """OpenAI's emulator: a compatible server speaks exactly its wire format."""
