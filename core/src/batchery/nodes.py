"""Graph-node plugins: async callables of state that do LLM work through `BatchLlmService`.

A node takes a state mapping and returns a partial state update, so it drops into a LangGraph
`StateGraph` (or any other graph runner) unchanged. A node plugin is a `Module` registered
under the `batchery.nodes` entry point whose `INFO` is a `NodeInfo` and which exports `node`;
its container receives `service` (and `bus`) from core's global module by injection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import msgspec

from batchery.modules import Module
from batchery.plugins import NODES_GROUP, PluginEntry, PluginError, discover_plugins
from batchery.spi import BATCHERY_API

__all__ = ["GraphNode", "NodeInfo", "discover_nodes", "validate_node"]


class NodeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A node's self-description: the state keys it reads and the ones it writes."""

    name: str
    title: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    batchery_api: int = BATCHERY_API


@runtime_checkable
class GraphNode(Protocol):
    @property
    def info(self) -> NodeInfo: ...

    async def __call__(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Do the node's work on `state` and return only the keys it writes."""
        ...


def validate_node(name: str, loaded: object) -> type[Module]:
    """A node plugin is a `Module` subclass whose `INFO` is a `NodeInfo` named like its entry."""
    if not (isinstance(loaded, type) and issubclass(loaded, Module)):
        raise PluginError(f"{loaded!r} is not a batchery.modules.Module subclass")
    info = getattr(loaded, "INFO", None)
    if not isinstance(info, NodeInfo):
        raise PluginError(
            f"{loaded.__qualname__}.INFO must be a batchery.nodes.NodeInfo, "
            f"not {type(info).__name__}"
        )
    if info.name != name:
        raise PluginError(
            f"{loaded.__qualname__}.INFO.name is {info.name!r} but its entry point is {name!r}"
        )
    if info.batchery_api != BATCHERY_API:
        raise PluginError(
            f"{loaded.__qualname__} is written for batchery API "
            f"{info.batchery_api}; this batchery speaks API {BATCHERY_API}"
        )
    return loaded


def discover_nodes(*, environ: Mapping[str, str] = os.environ) -> list[PluginEntry]:
    """The node modules registered under `batchery.nodes`, sorted by name."""
    return discover_plugins(NODES_GROUP, validate_node, environ=environ)
