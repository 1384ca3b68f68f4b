"""`GeminiModule`: how the Gemini provider enters a Batchery application.

Options given to `for_root` win over the environment (`GEMINI_API_KEY` or `GOOGLE_API_KEY`,
`GEMINI_BASE_URL`), so tests and `--emulate` can point it anywhere while real keys keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import msgspec
from batchery.modules import Module
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions, ProviderInfo
from dependency_injector import containers, providers

from batchery_gemini._options import GeminiOptions, session_resource
from batchery_gemini._provider import GeminiProvider

if TYPE_CHECKING:
    from batchery_gemini.emulator import GeminiEmulator

__all__ = ["GeminiModule", "options_from"]


def options_from(given: Mapping[str, object]) -> GeminiOptions:
    """The environment's options with `given` on top (strings from settings files convert)."""
    base = GeminiOptions.from_env()
    fields = msgspec.structs.asdict(base)
    changes = dict(given)
    key = changes.pop("api_key", None)
    fields.pop("api_key")
    fields.update(changes)
    try:
        options = msgspec.convert(fields, GeminiOptions, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"gemini provider options: {exc}") from None
    api_key = (
        Secret(key) if isinstance(key, str) and key else key if isinstance(key, Secret) else None
    )
    return msgspec.structs.replace(options, api_key=api_key or base.api_key)


class GeminiModule(Module):
    name = "gemini"
    exports = ("provider",)
    INFO: ClassVar[ProviderInfo] = GeminiProvider.INFO

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        settings = providers.Singleton(options_from, options)
        session = providers.Resource(session_resource, settings)
        provider = providers.Singleton(GeminiProvider, settings, session)

    @classmethod
    def emulator(cls, options: EmulatorOptions) -> GeminiEmulator:
        from batchery_gemini.emulator import GeminiEmulator

        return GeminiEmulator(options)
