"""`AnthropicModule`: how the Anthropic provider enters a Batchery application.

Options given to `for_root` win over the environment (`ANTHROPIC_API_KEY`,
`ANTHROPIC_BASE_URL`), so tests and `--emulate` can point it anywhere while real keys keep
working unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import msgspec
from batchery.modules import Module
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions, ProviderInfo
from dependency_injector import containers, providers

from batchery_anthropic._options import AnthropicOptions, session_resource
from batchery_anthropic._provider import AnthropicProvider

if TYPE_CHECKING:
    from batchery_anthropic.emulator import AnthropicEmulator

__all__ = ["AnthropicModule", "options_from"]


def options_from(given: Mapping[str, object]) -> AnthropicOptions:
    """The environment's options with `given` on top (strings from settings files convert)."""
    base = AnthropicOptions.from_env()
    fields = msgspec.structs.asdict(base)
    changes = dict(given)
    key = changes.pop("api_key", None)
    fields.pop("api_key")
    fields.update(changes)
    try:
        options = msgspec.convert(fields, AnthropicOptions, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"anthropic provider options: {exc}") from None
    api_key = Secret(key) if isinstance(key, str) and key else key
    if not isinstance(api_key, Secret):
        api_key = base.api_key
    return msgspec.structs.replace(options, api_key=api_key)


class AnthropicModule(Module):
    name = "anthropic"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = AnthropicProvider.INFO

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        settings = providers.Singleton(options_from, options)
        session = providers.Resource(session_resource, settings)
        provider = providers.Singleton(AnthropicProvider, settings, session)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> AnthropicEmulator:
        from batchery_anthropic.emulator import AnthropicEmulator

        return AnthropicEmulator(options)
