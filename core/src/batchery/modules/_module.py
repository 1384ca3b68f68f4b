"""`Module` and `ModuleDefinition`: the metadata a NestJS module carries, as Python classes.

A module is a class holding a dependency-injector `DeclarativeContainer`. Its `providers.Dependency`
slots are its imports, `exports` names its public providers, and `for_root(...)` returns a frozen
definition that carries per-application options. A module class is never instantiated and holds
no state: every `Application` builds its own container from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, TypeAlias

from dependency_injector import containers

__all__ = [
    "Module",
    "ModuleCompileError",
    "ModuleDefinition",
    "ModuleError",
    "ModuleInitError",
    "ModuleRef",
    "UnknownPathError",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class ModuleError(Exception):
    """Base of every error raised by the module system."""


class ModuleCompileError(ModuleError):
    """The module graph cannot be built: a cycle, a missing or hidden provider, a conflict."""


class ModuleInitError(ModuleError):
    """Start-up failed in `module` at `provider`; what had started was shut down again."""

    def __init__(self, module: str, provider: str, cause: BaseException) -> None:
        super().__init__(
            f"module {module!r} failed to initialise {provider!r}: {type(cause).__name__}: {cause}"
        )
        self.module = module
        self.provider = provider


class UnknownPathError(ModuleError, LookupError):
    """A dotted path `module.provider` names no module of this application, or no provider
    (a dependency-injector provider, not an LLM provider) of that module."""


class Module:
    """Base class of every Batchery module; subclasses only declare class attributes.

    `name` defaults to the class name, lowercased, without a trailing "Module", and is how the
    module is addressed in dotted paths ("openai.provider") and in `collects` dictionaries.
    """

    name: ClassVar[str] = "module"
    imports: ClassVar[tuple[type[Module] | ModuleDefinition, ...]] = ()
    exports: ClassVar[tuple[str, ...]] = ()
    global_: ClassVar[bool] = False
    collects: ClassVar[Mapping[str, str]] = MappingProxyType({})
    Container: ClassVar[type[containers.DeclarativeContainer]] = containers.DeclarativeContainer

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            base = cls.__name__
            cls.name = (base.removesuffix("Module") or base).lower()
        if not _NAME.match(cls.name):
            raise TypeError(f"{cls.__qualname__}.name {cls.name!r} is not a valid module name")
        # A one-element tuple written without its comma is a plain string or class: catch it here.
        for attribute in ("exports", "imports"):
            if not isinstance(cls.__dict__.get(attribute, ()), tuple):
                raise TypeError(f"{cls.__qualname__}.{attribute} must be a tuple")

    @classmethod
    def for_root(cls, **options: object) -> ModuleDefinition:
        """Configure this module once for the whole application.

        The options reach the container's `options` slot as one read-only mapping, except
        `global_=True`, which makes this module's exports visible to every module.
        """
        global_ = options.pop("global_", cls.global_)
        if not isinstance(global_, bool):
            raise TypeError(f"global_ must be a bool, got {global_!r}")
        return ModuleDefinition(cls, options, global_, configured=True)


@dataclass(frozen=True, slots=True)
class ModuleDefinition:
    """A module class plus its options: what `for_root` returns and what `imports` may hold.

    `configured` tells a bare class reference (which defers to whatever configuration the
    application gives the module elsewhere) from an explicit `for_root` call.
    """

    module: type[Module]
    options: Mapping[str, object] = field(default_factory=dict)
    global_: bool = False
    configured: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def name(self) -> str:
        return self.module.name

    @classmethod
    def of(cls, ref: object) -> ModuleDefinition:
        """Normalise a module class or a definition into a definition."""
        if isinstance(ref, ModuleDefinition):
            return ref
        if isinstance(ref, type) and issubclass(ref, Module):
            return cls(ref, {}, ref.global_)
        raise TypeError(f"expected a Module subclass or a ModuleDefinition, got {ref!r}")


ModuleRef: TypeAlias = type[Module] | ModuleDefinition
