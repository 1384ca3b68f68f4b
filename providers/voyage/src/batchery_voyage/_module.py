"""`VoyageModule`: how the Voyage AI provider enters a Batchery application.

Options given to `for_root` win over the environment (`VOYAGE_API_KEY`, `VOYAGE_BASE_URL`), so
tests and `--emulate` can point it anywhere while real keys keep working unchanged.
"""

from __future__ import annotations

from typing import ClassVar

from batchery.provider_kit import ProviderModuleBase, emulator_at, provider_container
from batchery.spi import ProviderInfo

from batchery_voyage._options import options_from
from batchery_voyage._provider import VoyageProvider

__all__ = ["VoyageModule"]


class VoyageModule(ProviderModuleBase):
    INFO: ClassVar[ProviderInfo] = VoyageProvider.INFO
    Container = provider_container(options_from, VoyageProvider, user_agent="batchery-voyage")
    emulator = emulator_at("batchery_voyage.emulator:VoyageEmulator")
