"""`OpenAIModule`: how the OpenAI provider enters a Batchery application.

Options given to `for_root` win over the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, ...),
so tests and `--emulate` can point it anywhere while real keys keep working unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from batchery.modules import Module
from batchery.provider_kit import options_over, provider_container
from batchery.spi import EmulatorOptions, ProviderInfo

from batchery_openai._options import OpenAIOptions, session_resource
from batchery_openai._provider import OpenAIProvider

if TYPE_CHECKING:
    from batchery_openai.emulator import OpenAIEmulator

__all__ = ["OpenAIModule", "options_from"]


def options_from(given: Mapping[str, object]) -> OpenAIOptions:
    """The environment's options with `given` on top (strings from settings files convert)."""
    return options_over(OpenAIOptions.from_env(), given, provider="openai")


class OpenAIModule(Module):
    name = "openai"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = OpenAIProvider.INFO
    Container = provider_container(options_from, session_resource, OpenAIProvider)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> OpenAIEmulator:
        from batchery_openai.emulator import OpenAIEmulator

        return OpenAIEmulator(options)
