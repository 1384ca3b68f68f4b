"""`LangGraphNode`: a Batchery graph node as a plain LangGraph node."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from batchery.nodes import GraphNode, NodeInfo
from batchery.progress import ProgressBus
from langgraph.runtime import Runtime

from batchery_langgraph._keys import run_key
from batchery_langgraph._mirror import EventMirror

__all__ = ["LangGraphNode", "as_langgraph_node"]

_RUN_ID = "run_id"


def _takes_run_id(node: GraphNode) -> bool:
    parameter = inspect.signature(node.__call__).parameters.get(_RUN_ID)
    return parameter is not None and parameter.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


class LangGraphNode:
    """Runs a Batchery node inside a LangGraph graph and streams its progress.

    The object is an async callable of `(state, runtime)`, which LangGraph accepts as a node
    as it is; its `__name__` is the node's name, so `add_node(wrapped)` needs no name. While
    the node runs, every event of its run (the node's own and its jobs') goes to LangGraph's
    custom stream as a plain dict, so `stream_mode="custom"` shows Batchery's progress with no
    Batchery import on the reading side.

    When the node's `__call__` takes a `run_id` keyword, it gets one derived from LangGraph's
    execution info (see `run_key`), stable across retries of the same task, so a node that
    resumes its jobs by run id never submits a batch twice when LangGraph retries it.
    """

    def __init__(self, node: GraphNode, bus: ProgressBus) -> None:
        self.node = node
        self.bus = bus
        self.__name__ = node.info.name
        self._takes_run_id = _takes_run_id(node)

    @property
    def info(self) -> NodeInfo:
        return self.node.info

    def __repr__(self) -> str:
        return f"LangGraphNode({self.info.name!r})"

    async def __call__(self, state: Mapping[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
        if not isinstance(state, Mapping):
            raise TypeError(
                f"node {self.info.name!r} needs a mapping state (a TypedDict or dict schema), "
                f"not {type(state).__name__}"
            )
        run_id = run_key(self.info.name, runtime.execution_info) if self._takes_run_id else None
        mirror = EventMirror(runtime.stream_writer, node=self.info.name, run_id=run_id)
        self.bus.add_sink(mirror)
        try:
            with mirror.attributing():
                if run_id is None:
                    return await self.node(state)
                return await self.node(state, **{_RUN_ID: run_id})
        finally:
            self.bus.remove_sink(mirror)


def as_langgraph_node(node: GraphNode, bus: ProgressBus) -> LangGraphNode:
    """`node` as a LangGraph node whose progress events also go to the custom stream."""
    return LangGraphNode(node, bus)
