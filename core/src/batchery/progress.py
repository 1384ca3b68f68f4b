"""Record events in the job store's log, then fan them out to whoever follows the run.

The log is the source of truth (it numbers events and keeps them for replay); subscribers are
live listeners with bounded queues, so one slow reader never holds up a run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from batchery.events import RunEvent
from batchery.store import JobStore

__all__ = ["ProgressBus"]

_encoder = msgspec.json.Encoder()


class ProgressBus:
    """Numbers, persists and publishes run events."""

    def __init__(self, store: JobStore, *, max_backlog: int = 1000) -> None:
        self._store = store
        self._max_backlog = max_backlog
        self._subscribers: set[asyncio.Queue[RunEvent]] = set()

    async def emit(self, run_id: str, make: Callable[..., RunEvent], **fields: Any) -> RunEvent:
        """Build the event with its sequence number and timestamp, log it, then publish it."""
        built: list[RunEvent] = []

        def encode(seq: int) -> bytes:
            event = make(run_id=run_id, seq=seq, ts=time.time(), **fields)
            built.append(event)
            return _encoder.encode(event)

        await self._store.append_event(run_id, encode)
        event = built[0]
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
        return event

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[RunEvent]]:
        """A queue of live events; when it overflows the oldest event is dropped."""
        queue: asyncio.Queue[RunEvent] = asyncio.Queue(self._max_backlog)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
