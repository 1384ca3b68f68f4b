"""`OpenAIModule`: how the OpenAI provider enters a Batchery application.

Options given to `for_root` win over the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, ...),
so tests and `--emulate` can point it anywhere while real keys keep working unchanged.
"""

from __future__ import annotations

from typing import ClassVar

from batchery.provider_kit import ProviderModuleBase, emulator_at, provider_container
from batchery.spi import ProviderInfo

from batchery_openai._options import options_from
from batchery_openai._provider import OpenAIProvider

__all__ = ["OpenAIModule"]


class OpenAIModule(ProviderModuleBase):
    INFO: ClassVar[ProviderInfo] = OpenAIProvider.INFO
    Container = provider_container(options_from, OpenAIProvider, user_agent="batchery-openai")
    emulator = emulator_at("batchery_openai.emulator:OpenAIEmulator")
