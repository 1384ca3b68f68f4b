"""The application: core's own module plus every provider module the entry points found.

`BatcheryModule` owns the job store, the progress bus and `BatchLlmService`; it collects the
`provider` export of every provider module, so a third party's provider is wired exactly like
the built-in ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any

from dependency_injector import containers, providers

from batchery.endpoints import endpoint_of
from batchery.model import Endpoint
from batchery.modules import Application, Module, ModuleDefinition
from batchery.nodes import discover_nodes
from batchery.plugins import PluginEntry, discover_providers
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService, ServiceOptions
from batchery.service.limiter import LimiterRegistry
from batchery.settings import Settings
from batchery.spi import ModelPrice, Provider, ProviderInfo
from batchery.store import JobStore, open_store

__all__ = ["BatcheryModule", "build_application", "provider_modules"]


async def _store_resource(options: Mapping[str, Any]) -> AsyncIterator[JobStore]:
    settings: Settings = options["settings"]
    store = open_store(settings.store_url(), busy_timeout_s=settings.store_busy_timeout_s)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _service_options(options: Mapping[str, Any]) -> ServiceOptions:
    return ServiceOptions.from_settings(options["settings"])


def _endpoints(options: Mapping[str, Any]) -> Mapping[str, Endpoint]:
    endpoints: Mapping[str, Endpoint] = options.get("endpoints", {})
    return endpoints


def _price_overrides(options: Mapping[str, Any]) -> Mapping[str, Mapping[str, ModelPrice]]:
    settings: Settings = options["settings"]
    return settings.prices


class BatcheryModule(Module):
    """Core's own module; global, so any node plugin's `service` and `bus` slots are filled."""

    name = "batchery"
    global_ = True
    exports = ("service", "store", "bus")
    collects = {"llm_providers": "provider"}

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, Any]]()
        llm_providers = providers.Dependency[Mapping[str, Provider]]()
        store = providers.Resource(_store_resource, options)
        bus = providers.Singleton(ProgressBus, store)
        service = providers.Singleton(
            BatchLlmService,
            providers=llm_providers,
            store=store,
            bus=bus,
            options=providers.Callable(_service_options, options),
            limiters=providers.Singleton(LimiterRegistry),
            prices=providers.Callable(_price_overrides, options),
            endpoints=providers.Callable(_endpoints, options),
        )


def _shared_provider_options(settings: Settings) -> dict[str, object]:
    """Top-level settings every provider module takes, below its own `[providers.NAME]` table."""
    if settings.request_timeout_s is None:
        return {}
    return {"request_timeout_s": settings.request_timeout_s}


def provider_modules(
    entries: Sequence[PluginEntry] | None = None, *, only: Collection[str] | None = None
) -> dict[str, type[Module]]:
    """The loadable provider modules by name (of `only` these, importing no other); broken
    plugins are left out (see `providers`)."""
    found = discover_providers(names=only) if entries is None else entries
    return {
        e.name: e.module for e in found if e.module is not None and (only is None or e.name in only)
    }


async def build_application(
    settings: Settings,
    *,
    provider_options: Mapping[str, Mapping[str, object]] | None = None,
    only: Sequence[str] | None = None,
    nodes: Sequence[str] = (),
    node_options: Mapping[str, Mapping[str, object]] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Application:
    """Boot core, the provider modules (all, or `only` these) and the named node plugins.

    `provider_options` go to each provider module's `for_root`; the shared settings
    (`request_timeout_s`) come first, then the provider's own (`providers.<name>.<option>`),
    and explicit ones win. A node is reached as
    `app.get("<node>.node")`; `node_options` go to each node module's `for_root`.
    """
    definitions: list[ModuleDefinition] = []
    endpoints: dict[str, Endpoint] = {}
    for name, module in provider_modules(only=only).items():
        options: dict[str, object] = {
            **_shared_provider_options(settings),
            **settings.providers.get(name.replace("-", "_"), {}),
            **settings.providers.get(name, {}),
        }
        options.update((provider_options or {}).get(name, {}))
        info = getattr(module, "INFO", None)
        if isinstance(info, ProviderInfo):
            endpoints[name] = await endpoint_of(info, options)
        definitions.append(module.for_root(**options))
    found_nodes = {e.name: e for e in discover_nodes()} if nodes else {}
    for name in nodes:
        entry = found_nodes.get(name)
        if entry is None or entry.module is None:
            reason = entry.error if entry is not None else "no such node plugin is installed"
            raise LookupError(f"node {name!r} cannot be loaded: {reason}")
        definitions.append(entry.module.for_root(**(node_options or {}).get(name, {})))
    return await Application.create(
        BatcheryModule.for_root(settings=settings, endpoints=endpoints),
        extra=definitions,
        overrides=overrides or {},
    )
