"""Graph-node plugins: async callables of state that do LLM work through `BatchLlmService`.

A node takes a state mapping and returns a partial state update, so it drops into a LangGraph
`StateGraph` (or any other graph runner) unchanged. A node plugin is a `Module` registered
under the `batchery.nodes` entry point whose `INFO` is a `NodeInfo` and which exports `node`;
its container receives `service` (and `bus`) from core's global module by injection.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import msgspec

from batchery.modules import Module
from batchery.plugins import NODES_GROUP, PluginEntry, PluginError, discover_plugins
from batchery.service.validation import id_problem
from batchery.spi import BATCHERY_API

__all__ = [
    "DEADLINE_KEY",
    "MAX_RUN_ID_LENGTH",
    "GraphNode",
    "NodeInfo",
    "StateError",
    "discover_nodes",
    "node_run_id",
    "read_deadline",
    "validate_node",
]

MAX_RUN_ID_LENGTH = 128
DEADLINE_KEY = "deadline_at"
"""The state key holding a graph run's one deadline, in Unix seconds, shared by every node."""


class StateError(ValueError):
    """A node's input state breaks a rule; the message names the node, the key and the rule."""


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


def node_run_id(state: Mapping[str, Any], node: str) -> str:
    """The run id of one call of `node`: `{run_id}-{node}` under the state's `run_id`, if any.

    A caller that names its run (a graph task, say) gets the same id on every call, so a call
    repeated after a crash resumes the jobs of the first instead of submitting them again;
    without one, each call gets a fresh `{node}-{12 hex}`. Either way, following the id as a
    prefix follows the node and every job it runs.
    """
    base = state.get("run_id")
    if base is None:
        return f"{node}-{uuid.uuid4().hex[:12]}"
    if not isinstance(base, str):
        raise StateError(f"{node}: 'run_id' must be a string, not {type(base).__name__}")
    problem = id_problem(base, max_length=MAX_RUN_ID_LENGTH)
    if problem is not None:
        raise StateError(f"{node}: 'run_id' {problem}")
    return f"{base}-{node}"


def read_deadline(state: Mapping[str, Any], node: str) -> float | None:
    """The state's `deadline_at` (Unix seconds), or None; anything but a finite number is refused.

    An absolute time rather than a duration, so a node that starts late, or a thread resumed
    after a crash, gets only what is left of the graph's deadline.
    """
    value = state.get(DEADLINE_KEY)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StateError(
            f"{node}: {DEADLINE_KEY!r} must be a time in Unix seconds (a number), not {value!r}"
        )
    return float(value)


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
