"""`AnthropicModule`: how the Anthropic provider enters a Batchery application.

Options given to `for_root` win over the environment (`ANTHROPIC_API_KEY`,
`ANTHROPIC_BASE_URL`), so tests and `--emulate` can point it anywhere while real keys keep
working unchanged.
"""

from __future__ import annotations

from typing import ClassVar

from batchery.provider_kit import ProviderModuleBase, emulator_at, provider_container
from batchery.spi import ProviderInfo

from batchery_anthropic._options import options_from
from batchery_anthropic._provider import AnthropicProvider

__all__ = ["AnthropicModule"]


class AnthropicModule(ProviderModuleBase):
    INFO: ClassVar[ProviderInfo] = AnthropicProvider.INFO
    Container = provider_container(options_from, AnthropicProvider, user_agent="batchery-anthropic")
    emulator = emulator_at("batchery_anthropic.emulator:AnthropicEmulator")
