"""What `batchery submit` and `batchery worker` need from a work queue, and how one is found.

A work queue decides who works on which stored run, and when: priorities, not-before times,
and a dead worker's runs going to another worker. It never decides whether a provider call is
made: that stays with the job's lease and fencing epoch in the store. Core ships no queue; a
contrib package (`batchery-queue`, on PostgreSQL) registers one under the
`batchery.work_queues` entry points, by the store URL's scheme, as stores are found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import metadata
from typing import Protocol

import msgspec

__all__ = [
    "WORK_QUEUE_ENTRY_POINTS",
    "Drive",
    "QueuedRun",
    "WorkQueue",
    "WorkQueueFactory",
    "WorkQueueUnavailableError",
    "work_queue_factory",
]

WORK_QUEUE_ENTRY_POINTS = "batchery.work_queues"


class QueuedRun(msgspec.Struct, frozen=True):
    """One queue entry: the stored job to drive, and the provider whose service drives it."""

    run_id: str
    provider: str


Drive = Callable[[QueuedRun], Awaitable[float | None]]
"""Drive a run; None when it is done with, or the seconds to wait before it is tried again
(another process holds it, or this worker cannot drive it now)."""


class WorkQueue(Protocol):
    async def enqueue(self, run: QueuedRun, *, priority: int, not_before_s: float | None) -> bool:
        """Queue the run (priority 1..10, 10 first; held `not_before_s` seconds), unless it is
        queued or being worked on already; whether it was queued now."""
        ...

    async def work(
        self,
        drive: Drive,
        *,
        providers: Sequence[str],
        concurrency: int,
        stall_after_s: float,
        stop: asyncio.Event,
    ) -> None:
        """Drive queued runs of `providers` only (a run of another provider stays queued for
        another worker), at most `concurrency` at once, until `stop` is set; then finish
        the runs in hand and return. A run whose worker sent no heartbeat for `stall_after_s`
        goes to another worker."""
        ...


class WorkQueueFactory(Protocol):
    """What a `batchery.work_queues` entry point loads: the queue in the store at a URL."""

    def __call__(self, url: str) -> AbstractAsyncContextManager[WorkQueue]: ...


class WorkQueueUnavailableError(LookupError):
    """No installed package provides a work queue for the store's kind of URL."""


def work_queue_factory(url: str) -> WorkQueueFactory:
    """The installed work queue for the store at `url`; `WorkQueueUnavailableError` names the
    package to install when there is none."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "sqlite"
    for entry_point in metadata.entry_points(group=WORK_QUEUE_ENTRY_POINTS, name=scheme):
        factory: WorkQueueFactory = entry_point.load()
        return factory
    if scheme in ("postgresql", "postgres"):
        raise WorkQueueUnavailableError(
            "the work queue needs the batchery-queue package: uv add batchery-queue"
        )
    raise WorkQueueUnavailableError(
        "the work queue needs a PostgreSQL store: pass --store postgresql://…"
    )
