"""`Application`: compile modules, start them in order, hand out providers, stop them in reverse.

dependency-injector gathers `init_resources()` with no order and leaves half-started resources
open when one fails, so start-up here is ours: one step at a time, journalled, and on failure
the journal is unwound before the error is raised. Shutdown walks the journal backwards,
logs and skips whatever fails, and gives up at a deadline so a stuck hook cannot hang a process.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import structlog
from dependency_injector import containers, providers

from batchery.modules._compiler import AnyProvider, CompiledModule, compile_modules
from batchery.modules._module import ModuleInitError, ModuleRef, UnknownPathError
from batchery.modules.lifecycle import find_hook

__all__ = ["Application", "settle"]

T = TypeVar("T")

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("batchery.modules")

_SHUTDOWN_HOOKS = ("on_module_destroy", "before_application_shutdown", "on_application_shutdown")


async def settle(result: object) -> object:
    """Await `result` if dependency-injector handed back an awaitable, else return it as is.

    Providers, `init()` and `shutdown()` return a value, None or an awaitable depending on
    whether anything async sits behind them; this is the one place that difference is handled.
    """
    if inspect.isawaitable(result):
        return await result
    return result


@dataclass(frozen=True, slots=True)
class _Started:
    """One journal entry: a Resource that initialised or an instance whose init hook ran."""

    module: str
    provider: str
    resource: providers.Resource[Any] | None = None
    instance: object = None


@dataclass(frozen=True, slots=True)
class _Step:
    module: str
    provider: str
    action: str
    run: Callable[[], object]


class Application:
    """A running set of modules; build one with `await Application.create(...)`.

    Each application owns fresh containers, so several can live in one process (tests do this)
    without sharing a provider, an instance or an override.
    """

    def __init__(self, modules: tuple[CompiledModule, ...], shutdown_deadline: float) -> None:
        self._modules = {m.name: m for m in modules}
        self._shutdown_deadline = shutdown_deadline
        self._journal: list[_Started] = []
        self._overridden: list[AnyProvider] = []
        self._closed: asyncio.Event | None = None

    @classmethod
    async def create(
        cls,
        root: ModuleRef,
        *,
        extra: Iterable[ModuleRef] = (),
        overrides: Mapping[str, object] | None = None,
        shutdown_deadline: float = 5.0,
    ) -> Self:
        """Compile `root` and `extra` with their imports, apply `overrides`, then start up.

        Args:
            root: the application's root module (a class or a `for_root(...)` definition).
            extra: more top-level modules, e.g. provider modules found through entry points.
            overrides: `{"module.provider": value}`; a value or a dependency-injector provider
                replaces that provider in this application only, before anything starts.
            shutdown_deadline: seconds `close()` may take before it gives up on the rest.

        Raises:
            ModuleCompileError: the module graph is invalid.
            UnknownPathError: an override names no provider of this application.
            ModuleInitError: a Resource, Singleton or hook failed; everything already started
                has been shut down again.
        """
        app = cls(compile_modules(root, extra), shutdown_deadline)
        for path, value in (overrides or {}).items():
            app._override(path, value)
        await app._start()
        return app

    @property
    def modules(self) -> tuple[str, ...]:
        """Module names in start-up order; shutdown runs in the reverse."""
        return tuple(self._modules)

    def container(self, module: str) -> containers.Container:
        """The container this application built for `module`."""
        try:
            return self._modules[module].container
        except KeyError:
            raise UnknownPathError(f"no module {module!r} in this application") from None

    def provider(self, path: str) -> AnyProvider:
        """The provider object at dotted `path` ("openai.provider") that this application holds."""
        module, _, name = path.partition(".")
        found = self.container(module).providers.get(name)
        if found is None:
            raise UnknownPathError(f"module {module!r} has no provider {name!r} ({path!r})")
        return found

    @overload
    async def get(self, path: str) -> Any: ...
    @overload
    async def get(self, path: str, type_: type[T]) -> T: ...
    async def get(self, path: str, type_: type[T] | None = None) -> Any:
        """Resolve the provider at dotted `path`, awaiting it when it is async.

        With `type_`, the value is checked to be an instance of it.
        """
        if self._closed is not None:
            raise RuntimeError("the application is closed")
        value = await settle(self.provider(path)())
        if type_ is not None and not isinstance(value, type_):
            raise TypeError(f"{path!r} is {type(value).__name__}, not {type_.__name__}")
        return value

    async def close(self, signal: str | None = None) -> None:
        """Run the shutdown hooks and close Resources, in exact reverse of start-up.

        Every step is best-effort: a failure is logged with `module` and `provider` and the
        rest still runs. Calling it again, or concurrently, waits for the first call.
        """
        if self._closed is not None:
            await self._closed.wait()
            return
        closed = self._closed = asyncio.Event()
        try:
            await self._shut_down(signal)
        finally:
            self._finish(closed)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _override(self, path: str, value: object) -> None:
        target = self.provider(path)
        target.override(value if isinstance(value, providers.Provider) else providers.Object(value))
        self._overridden.append(target)

    async def _start(self) -> None:
        module, provider = "", ""
        try:
            seen: set[int] = set()
            for compiled in self._modules.values():
                module = compiled.name
                created: list[tuple[str, object]] = []
                for provider, resource in compiled.resources():
                    created.append((provider, await settle(resource.init())))
                    self._journal.append(_Started(module, provider, resource=resource))
                for provider, singleton in compiled.singletons():
                    created.append((provider, await settle(singleton())))
                for provider, instance in created:
                    if id(instance) in seen:
                        continue
                    seen.add(id(instance))
                    await _call_hook(instance, "on_module_init")
                    self._journal.append(_Started(module, provider, instance=instance))
            for entry in self._instances():
                module, provider = entry.module, entry.provider
                await _call_hook(entry.instance, "on_application_bootstrap")
        except BaseException as exc:
            closed = self._closed = asyncio.Event()
            try:
                await self._shut_down(None)
            finally:
                self._finish(closed)
            if isinstance(exc, Exception):
                raise ModuleInitError(module, provider, exc) from exc
            raise

    def _finish(self, closed: asyncio.Event) -> None:
        """Undo this application's overrides and release anyone waiting in `close()`."""
        for provider in reversed(self._overridden):
            provider.reset_last_overriding()
        self._overridden.clear()
        closed.set()

    def _instances(self) -> list[_Started]:
        return [entry for entry in self._journal if entry.resource is None]

    def _shutdown_steps(self, signal: str | None) -> list[_Step]:
        instances = self._instances()[::-1]
        steps: list[_Step] = []
        for hook in _SHUTDOWN_HOOKS:
            for entry in instances:
                method = find_hook(entry.instance, hook)
                if method is not None:
                    run = method if hook == "on_module_destroy" else partial(method, signal)
                    steps.append(_Step(entry.module, entry.provider, hook, run))
        for entry in reversed(self._journal):
            if entry.resource is not None:
                steps.append(
                    _Step(entry.module, entry.provider, "shutdown", entry.resource.shutdown)
                )
        return steps

    async def _shut_down(self, signal: str | None) -> None:
        steps = self._shutdown_steps(signal)
        self._journal.clear()
        done = 0
        try:
            async with asyncio.timeout(self._shutdown_deadline):
                for done, step in enumerate(steps):  # noqa: B007 -- read after a timeout
                    try:
                        await settle(step.run())
                    except Exception:
                        _log.exception(
                            "shutdown step failed",
                            module=step.module,
                            provider=step.provider,
                            step=step.action,
                        )
        except TimeoutError:
            stuck = steps[done]
            _log.error(
                "shutdown deadline exceeded",
                module=stuck.module,
                provider=stuck.provider,
                step=stuck.action,
                deadline_s=self._shutdown_deadline,
                skipped=len(steps) - done - 1,
            )


async def _call_hook(instance: object, hook: str) -> None:
    method = find_hook(instance, hook)
    if method is not None:
        result: Awaitable[None] | None = method()
        await settle(result)
