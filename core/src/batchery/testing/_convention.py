"""The module convention the kit relies on, checked up front with messages for plugin authors.

A provider module class has `INFO: ProviderInfo`, exports `provider`, takes
`for_root(base_url=..., api_key=...)`, and has a classmethod `emulator(options)` returning an
`Emulator` of its own API.
"""

from __future__ import annotations

from batchery.modules import Module
from batchery.spi import (
    EmulatedProviderModule,
    Emulator,
    EmulatorOptions,
    ProviderInfo,
    ProviderModule,
)

__all__ = ["ConventionError", "check_module", "make_emulator", "module_info"]


class ConventionError(TypeError):
    """The class under test does not follow the provider-module convention."""


def module_info(module: type[Module]) -> ProviderInfo:
    declared: object = module
    info = declared.INFO if isinstance(declared, ProviderModule) else None
    if not isinstance(info, ProviderInfo):
        raise ConventionError(
            f"{module.__qualname__}.INFO must be a ProviderInfo (batchery.spi), "
            f"not {type(info).__name__}"
        )
    return info


def check_module(module: object) -> type[Module]:
    """`module` itself when it follows the convention; otherwise a ConventionError saying why."""
    if not (isinstance(module, type) and issubclass(module, Module)):
        raise ConventionError(
            f"the class under test must be a batchery.modules.Module subclass, got {module!r}; "
            "set `module = YourProviderModule` on your ProviderConformance subclass"
        )
    module_info(module)
    if "provider" not in module.exports:
        raise ConventionError(
            f"{module.__qualname__}.exports must include 'provider' (it is {module.exports!r})"
        )
    declared: object = module
    if not isinstance(declared, EmulatedProviderModule):
        raise ConventionError(
            f"{module.__qualname__} needs a classmethod `emulator(options: EmulatorOptions)` "
            "returning an emulator of its API; the kit runs every test against it"
        )
    return module


def make_emulator(module: type[Module], options: EmulatorOptions) -> Emulator:
    """The module's emulator for `options`, not yet started."""
    declared: object = module
    if not isinstance(declared, EmulatedProviderModule):
        raise ConventionError(f"{module.__qualname__} has no `emulator` classmethod")
    emulator = declared.emulator(options)
    for attribute in ("start", "close", "base_url"):
        if not hasattr(type(emulator), attribute):
            raise ConventionError(
                f"{module.__qualname__}.emulator() returned {type(emulator).__name__}, which has "
                f"no `{attribute}`; return a batchery.spi.Emulator (see batchery.emulator)"
            )
    return emulator
