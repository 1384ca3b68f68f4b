"""`GeminiModule`: how the Gemini provider enters a Batchery application.

Options given to `for_root` win over the environment (`GEMINI_API_KEY` or `GOOGLE_API_KEY`,
`GEMINI_BASE_URL`), so tests and `--emulate` can point it anywhere while real keys keep working.
"""

from __future__ import annotations

from typing import ClassVar

from batchery.provider_kit import ProviderModuleBase, emulator_at, provider_container
from batchery.spi import ProviderInfo

from batchery_gemini._options import options_from
from batchery_gemini._provider import GeminiProvider

__all__ = ["GeminiModule"]


class GeminiModule(ProviderModuleBase):
    INFO: ClassVar[ProviderInfo] = GeminiProvider.INFO
    Container = provider_container(options_from, GeminiProvider, user_agent="batchery-gemini")
    emulator = emulator_at("batchery_gemini.emulator:GeminiEmulator")
