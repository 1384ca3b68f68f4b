"""`TogetherModule`: how the Together AI provider enters a Batchery application.

Options given to `for_root` win over the environment (`TOGETHER_API_KEY`, `TOGETHER_BASE_URL`),
so tests and `--emulate` can point it anywhere while real keys keep working unchanged.
"""

from __future__ import annotations

from typing import ClassVar

from batchery.provider_kit import ProviderModuleBase, emulator_at, provider_container
from batchery.spi import ProviderInfo

from batchery_together._options import options_from
from batchery_together._provider import TogetherProvider

__all__ = ["TogetherModule"]


class TogetherModule(ProviderModuleBase):
    INFO: ClassVar[ProviderInfo] = TogetherProvider.INFO
    Container = provider_container(options_from, TogetherProvider, user_agent="batchery-together")
    emulator = emulator_at("batchery_together.emulator:TogetherEmulator")
