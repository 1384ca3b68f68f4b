"""Record events in the job store's log, then fan them out to whoever follows the run.

The log is the source of truth (it numbers events and keeps them for replay). After an event is
committed it goes to the sinks (the server's channels publisher, which fans it out to every
instance) and to in-process subscribers with bounded queues (the CLI's progress view), so one
slow reader never holds up a run. Delivery past the log is best effort: readers that miss an
event read it back from the log by `seq`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import structlog

from batchery.events import RunEvent
from batchery.store import JobStore, Lease

__all__ = ["EventSink", "ProgressBus"]

EventSink = Callable[[RunEvent, bytes], Awaitable[None]]
"""Called with each committed event and its JSON encoding, in `seq` order per run."""

_encoder = msgspec.json.Encoder()
_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("batchery.progress")


class ProgressBus:
    """Numbers, persists and publishes run events."""

    def __init__(self, store: JobStore, *, max_backlog: int = 1000) -> None:
        self._store = store
        self._max_backlog = max_backlog
        self._subscribers: set[asyncio.Queue[RunEvent]] = set()
        self._sinks: list[EventSink] = []
        self._leases: dict[str, Lease] = {}

    def fence(self, lease: Lease) -> None:
        """Log the job's events only while `lease` is live, so a fenced-out driver adds none."""
        self._leases[lease.job_id] = lease

    def unfence(self, job_id: str) -> None:
        self._leases.pop(job_id, None)

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: EventSink) -> None:
        self._sinks.remove(sink)

    async def emit(self, run_id: str, make: Callable[..., RunEvent], **fields: Any) -> RunEvent:
        """Build the event with its sequence number and timestamp, log it, then publish it."""
        built: list[tuple[RunEvent, bytes]] = []

        def encode(seq: int) -> bytes:
            event = make(run_id=run_id, seq=seq, ts=time.time(), **fields)
            body = _encoder.encode(event)
            built.append((event, body))
            return body

        await self._store.append_event(run_id, encode, lease=self._leases.get(run_id))
        event, body = built[-1]
        for sink in tuple(self._sinks):
            try:
                await sink(event, body)
            except Exception:
                _log.exception("progress sink failed", run_id=run_id, seq=event.seq)
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
