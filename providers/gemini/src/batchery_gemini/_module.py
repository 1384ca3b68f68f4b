"""`GeminiModule`: how the Gemini provider enters a Batchery application.

Options given to `for_root` win over the environment (`GEMINI_API_KEY` or `GOOGLE_API_KEY`,
`GEMINI_BASE_URL`), so tests and `--emulate` can point it anywhere while real keys keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from batchery.modules import Module
from batchery.provider_kit import options_over, provider_container
from batchery.spi import EmulatorOptions, ProviderInfo

from batchery_gemini._options import GeminiOptions, session_resource
from batchery_gemini._provider import GeminiProvider

if TYPE_CHECKING:
    from batchery_gemini.emulator import GeminiEmulator

__all__ = ["GeminiModule", "options_from"]


def options_from(given: Mapping[str, object]) -> GeminiOptions:
    """The environment's options with `given` on top (strings from settings files convert)."""
    return options_over(GeminiOptions.from_env(), given, provider="gemini")


class GeminiModule(Module):
    name = "gemini"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = GeminiProvider.INFO
    Container = provider_container(options_from, session_resource, GeminiProvider)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> GeminiEmulator:
        from batchery_gemini.emulator import GeminiEmulator

        return GeminiEmulator(options)
