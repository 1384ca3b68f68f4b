"""`AnthropicModule`: how the Anthropic provider enters a Batchery application.

Options given to `for_root` win over the environment (`ANTHROPIC_API_KEY`,
`ANTHROPIC_BASE_URL`), so tests and `--emulate` can point it anywhere while real keys keep
working unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from batchery.modules import Module
from batchery.provider_kit import options_over, provider_container
from batchery.spi import EmulatorOptions, ProviderInfo

from batchery_anthropic._options import AnthropicOptions, session_resource
from batchery_anthropic._provider import AnthropicProvider

if TYPE_CHECKING:
    from batchery_anthropic.emulator import AnthropicEmulator

__all__ = ["AnthropicModule", "options_from"]


def options_from(given: Mapping[str, object]) -> AnthropicOptions:
    """The environment's options with `given` on top (strings from settings files convert)."""
    return options_over(AnthropicOptions.from_env(), given, provider="anthropic")


class AnthropicModule(Module):
    name = "anthropic"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = AnthropicProvider.INFO
    Container = provider_container(options_from, session_resource, AnthropicProvider)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> AnthropicEmulator:
        from batchery_anthropic.emulator import AnthropicEmulator

        return AnthropicEmulator(options)
