"""`VoyageModule`: how the Voyage AI provider enters a Batchery application.

Options given to `for_root` win over the environment (`VOYAGE_API_KEY`, `VOYAGE_BASE_URL`), so
tests and `--emulate` can point it anywhere while real keys keep working unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from batchery.modules import Module
from batchery.provider_kit import options_over, provider_container
from batchery.spi import EmulatorOptions, ProviderInfo

from batchery_voyage._options import VoyageOptions, session_resource
from batchery_voyage._provider import VoyageProvider

if TYPE_CHECKING:
    from batchery_voyage.emulator import VoyageEmulator

__all__ = ["VoyageModule", "options_from"]


def options_from(given: Mapping[str, object]) -> VoyageOptions:
    """The environment's options with `given` on top (strings from settings files convert)."""
    return options_over(VoyageOptions.from_env(), given, provider="voyage")


class VoyageModule(Module):
    name = "voyage"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = VoyageProvider.INFO
    Container = provider_container(options_from, session_resource, VoyageProvider)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> VoyageEmulator:
        from batchery_voyage.emulator import VoyageEmulator

        return VoyageEmulator(options)
