"""Lifecycle hooks an instance may implement; `Application` calls them at start-up and shutdown.

The names and order follow NestJS. Any Singleton or Resource value a module creates takes part
simply by defining the method (structural typing: no base class to inherit). All hooks are async.

Start-up, module by module from the deepest import to the root: `on_module_init`, then, once
every module is up, `on_application_bootstrap`. Shutdown, in exact reverse: `on_module_destroy`,
`before_application_shutdown(signal)`, `on_application_shutdown(signal)`, then Resources close.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

__all__ = [
    "BeforeApplicationShutdown",
    "OnApplicationBootstrap",
    "OnApplicationShutdown",
    "OnModuleDestroy",
    "OnModuleInit",
    "find_hook",
]


@runtime_checkable
class OnModuleInit(Protocol):
    async def on_module_init(self) -> None:
        """Called once the instance's module and everything it imports are ready."""


@runtime_checkable
class OnApplicationBootstrap(Protocol):
    async def on_application_bootstrap(self) -> None:
        """Called once every module is initialised, before the application is handed out."""


@runtime_checkable
class OnModuleDestroy(Protocol):
    async def on_module_destroy(self) -> None:
        """First shutdown hook; every Resource is still open."""


@runtime_checkable
class BeforeApplicationShutdown(Protocol):
    async def before_application_shutdown(self, signal: str | None) -> None:
        """Called after every `on_module_destroy`; `signal` is e.g. "SIGTERM", or None."""


@runtime_checkable
class OnApplicationShutdown(Protocol):
    async def on_application_shutdown(self, signal: str | None) -> None:
        """Last hook before Resources close."""


def find_hook(instance: object, hook: str) -> Callable[..., Awaitable[None] | None] | None:
    """The bound hook method, looked up on the class so that a mock's attributes don't count."""
    if not callable(getattr(type(instance), hook, None)):
        return None
    method: Callable[..., Awaitable[None] | None] = getattr(instance, hook)
    return method
