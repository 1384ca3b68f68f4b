"""`OpenAIModule`: how the OpenAI provider enters a Batchery application.

Options given to `for_root` win over the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, ...),
so tests and `--emulate` can point it anywhere while real keys keep working unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import msgspec
from batchery.modules import Module
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions, ProviderInfo
from dependency_injector import containers, providers

from batchery_openai._options import OpenAIOptions, session_resource
from batchery_openai._provider import OpenAIProvider

if TYPE_CHECKING:
    from batchery_openai.emulator import OpenAIEmulator

__all__ = ["OpenAIModule", "options_from"]


def options_from(given: Mapping[str, object]) -> OpenAIOptions:
    """The environment's options with `given` on top (strings from settings files convert)."""
    base = OpenAIOptions.from_env()
    fields = msgspec.structs.asdict(base)
    changes = dict(given)
    key = changes.pop("api_key", None)
    fields.pop("api_key")
    fields.update(changes)
    try:
        options = msgspec.convert(fields, OpenAIOptions, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"openai provider options: {exc}") from None
    api_key = Secret(key) if isinstance(key, str) else key if isinstance(key, Secret) else None
    return msgspec.structs.replace(options, api_key=api_key or base.api_key)


class OpenAIModule(Module):
    name = "openai"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = OpenAIProvider.INFO

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        settings = providers.Singleton(options_from, options)
        session = providers.Resource(session_resource, settings)
        provider = providers.Singleton(OpenAIProvider, settings, session)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> OpenAIEmulator:
        from batchery_openai.emulator import OpenAIEmulator

        return OpenAIEmulator(options)
