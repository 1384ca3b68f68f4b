"""`LangGraphNode`: a Batchery graph node as a plain LangGraph node."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from batchery.nodes import DEADLINE_KEY, GraphNode, NodeInfo
from batchery.progress import ProgressBus
from langchain_core.callbacks import adispatch_custom_event
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from batchery_langgraph._keys import run_key
from batchery_langgraph._mirror import EventMirror

__all__ = ["DEADLINE_KEY", "RUN_ID_KEY", "LangGraphNode", "as_langgraph_node"]

RUN_ID_KEY = "run_id"
"""The state key under which a node that lists it in `NodeInfo.reads` takes its run id."""


class LangGraphNode:
    """Runs a Batchery node inside a LangGraph graph and streams its progress.

    The object is an async callable of `(state, runtime)`, which LangGraph accepts as a node
    as it is; its `__name__` is the node's name, so `add_node(wrapped)` needs no name. While
    the node runs, every event of its run (the node's own and its jobs') goes to LangGraph's
    custom stream as a plain dict, so `stream_mode="custom"` shows Batchery's progress with no
    Batchery import on the reading side.

    A node that reads `run_id` from its state gets one derived from LangGraph's execution info
    (`run_key`, under the state's own `run_id` if it has one): the same on every attempt of a
    task, so a node that resumes its jobs by run id never submits a batch twice when LangGraph
    retries it. The graph's state itself is left as it is.

    A graph-wide deadline (`deadline_at`, Unix seconds) can be given once, in the state or in
    the run's `configurable`; the state's wins. Every node then takes what is left of it.
    The events also reach `astream_events(version="v2")` as custom events `batchery.{type}`.
    """

    def __init__(self, node: GraphNode, bus: ProgressBus) -> None:
        self.node = node
        self.bus = bus
        self.__name__ = node.info.name

    @property
    def info(self) -> NodeInfo:
        return self.node.info

    def __repr__(self) -> str:
        return f"LangGraphNode({self.info.name!r})"

    async def __call__(
        self, state: Any, runtime: Runtime[Any], config: RunnableConfig
    ) -> dict[str, Any]:
        if not isinstance(state, Mapping):
            raise TypeError(
                f"node {self.info.name!r} needs a mapping state (a TypedDict or dict schema), "
                f"not {type(state).__name__}"
            )
        run_id = None
        base = state.get(RUN_ID_KEY)
        if RUN_ID_KEY in self.info.reads and (base is None or isinstance(base, str)):
            run_id = run_key(runtime.execution_info, base)
            if run_id is not None:
                state = {**state, RUN_ID_KEY: run_id}
        deadline = (config.get("configurable") or {}).get(DEADLINE_KEY)
        if (
            DEADLINE_KEY in self.info.reads
            and state.get(DEADLINE_KEY) is None
            and deadline is not None
        ):
            state = {**state, DEADLINE_KEY: deadline}
        mirror = EventMirror(
            runtime.stream_writer,
            node=self.info.name,
            run_id=run_id,
            dispatch=partial(_dispatch, config=config),
        )
        self.bus.add_sink(mirror)
        try:
            with mirror.attributing():
                return await self.node(state)
        finally:
            self.bus.remove_sink(mirror)


async def _dispatch(name: str, data: Any, *, config: RunnableConfig) -> None:
    """A custom event for LangChain's callbacks; only a run that has handlers is told."""
    if config.get("callbacks"):
        await adispatch_custom_event(name, data, config=config)


def as_langgraph_node(node: GraphNode, bus: ProgressBus) -> LangGraphNode:
    """`node` as a LangGraph node whose progress events also go to the custom stream."""
    return LangGraphNode(node, bus)
