"""Copy one node call's progress events from the Batchery bus to LangGraph's custom stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import msgspec
from batchery.events import JobEvent, NodeStarted, RunEvent

__all__ = ["CUSTOM_EVENT_PREFIX", "EventMirror"]

CUSTOM_EVENT_PREFIX = "batchery."
"""A LangChain custom event's name is this and the event's type: `batchery.node_finished`."""

Dispatch = Callable[[str, Any], Awaitable[None]]

_calling: ContextVar[EventMirror | None] = ContextVar("batchery_langgraph_calling", default=None)


class EventMirror:
    """A progress-bus sink that writes a node run's events to `writer` as plain dicts.

    An event belongs to the run when its run id starts with the node's run id (the node's own
    events and those of every job it runs). That id is known up front when the adapter chose
    it; otherwise it is learned from the `NodeStarted` the call itself emits. Sinks run inside
    `ProgressBus.emit`, in the emitting task's context, so a context variable set around the
    call tells its `NodeStarted` apart from that of a parallel call of the same node.
    A sink sees every committed event in order, unlike a subscriber's bounded queue, so none
    is dropped on the way to LangGraph. With `dispatch`, each event is also handed to it as a
    LangChain custom event named `batchery.{type}`, which `astream_events` shows.
    """

    def __init__(
        self,
        writer: Callable[[Any], None],
        *,
        node: str,
        run_id: str | None = None,
        dispatch: Dispatch | None = None,
    ) -> None:
        self._writer = writer
        self._node = node
        self._dispatch = dispatch
        self.run_id = run_id

    @contextmanager
    def attributing(self) -> Iterator[None]:
        """Mark the code run inside as this call, so its `NodeStarted` names the run."""
        token = _calling.set(self)
        try:
            yield
        finally:
            _calling.reset(token)

    def owns(self, event: RunEvent) -> bool:
        """Whether the event is this call's; a `JobEvent` is not, its job's event already is."""
        if isinstance(event, JobEvent):
            return False
        if self.run_id is None:
            if not (
                isinstance(event, NodeStarted)
                and event.node == self._node
                and _calling.get() is self
            ):
                return False
            self.run_id = event.run_id
        return event.run_id.startswith(self.run_id)

    async def __call__(self, event: RunEvent, body: bytes) -> None:
        if self.owns(event):
            data = msgspec.to_builtins(event)
            self._writer(data)
            if self._dispatch is not None:
                await self._dispatch(CUSTOM_EVENT_PREFIX + data["type"], {**data})
