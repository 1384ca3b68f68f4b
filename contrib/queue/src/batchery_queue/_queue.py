"""The work queue on pgqueuer, in the job store's own database and schema.

pgqueuer decides who works on what and when: the highest priority first, nothing before its
`execute_after`, and an entry whose worker stopped sending heartbeats re-picked by the next
dequeue. Batchery's job lease and fencing epoch still decide, at every write, which process
may drive the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import msgspec
import psycopg
from batchery.secrets import shown_url
from batchery.store import StoreUnavailableError
from batchery.work_queue import Drive, QueuedRun
from pgqueuer.db import PsycopgDriver
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries

__all__ = ["PgWorkQueue", "entrypoint", "open_pg_work_queue"]


def entrypoint(provider: str) -> str:
    """The kind of entry a run of `provider` is queued as: a worker registers only the kinds
    of the providers it serves, so pgqueuer never hands it a run of another provider."""
    return f"batchery.run.{provider}"


_INSTALL_LOCK = 0x6261746368_7175
"""Held while pgqueuer's tables are created, so processes starting at once make them once."""


class PgWorkQueue:
    """`batchery.work_queue.WorkQueue` on pgqueuer, over one autocommit psycopg connection."""

    def __init__(self, driver: PsycopgDriver) -> None:
        self._driver = driver

    async def enqueue(self, run: QueuedRun, *, priority: int, not_before_s: float | None) -> bool:
        """The run id is the entry's dedupe key, so submitting one run twice queues it once."""
        ids = await Queries(self._driver).enqueue(
            entrypoint(run.provider),
            msgspec.json.encode(run),
            priority=priority,
            execute_after=None if not_before_s is None else timedelta(seconds=not_before_s),
            dedupe_key=run.run_id,
            on_conflict="skip",
        )
        return ids[0] is not None

    async def work(
        self,
        drive: Drive,
        *,
        providers: Sequence[str],
        concurrency: int,
        stall_after_s: float,
        stop: asyncio.Event,
    ) -> None:
        """Dequeue one entry at a time, of `providers` only; an idle worker looks for stalled
        entries every half of `stall_after_s` (new entries wake it at once through `LISTEN`)."""
        manager = QueueManager(Queries(self._driver))

        async def run_entry(job: Job) -> None:
            assert job.payload is not None
            retry_s = await drive(msgspec.json.decode(job.payload, type=QueuedRun))
            if retry_s is not None:
                raise RetryRequested(timedelta(seconds=retry_s))

        for provider in providers:
            manager.entrypoint(entrypoint(provider), on_failure="hold")(run_entry)

        async def stop_when_asked() -> None:
            await stop.wait()
            manager.shutdown.set()

        watcher = asyncio.create_task(stop_when_asked())
        try:
            await manager.run(
                dequeue_timeout=timedelta(seconds=stall_after_s / 2),
                batch_size=1,
                max_concurrent_tasks=max(concurrency, 2),
                heartbeat_timeout=timedelta(seconds=stall_after_s),
            )
        finally:
            watcher.cancel()


@asynccontextmanager
async def open_pg_work_queue(url: str) -> AsyncIterator[PgWorkQueue]:
    """The `batchery.work_queues` entry point: the queue in the store at `url`, its tables
    created if missing."""
    try:
        connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(
            f"cannot open the work queue at {shown_url(url)}: {str(exc).strip()}"
        ) from None
    async with connection:
        driver = PsycopgDriver(connection)
        queries = Queries(driver)
        await connection.execute("SELECT pg_advisory_lock(%s)", (_INSTALL_LOCK,))
        try:
            if not await queries.schema_is_installed():
                await queries.install(create_schema=False)
        finally:
            await connection.execute("SELECT pg_advisory_unlock(%s)", (_INSTALL_LOCK,))
        yield PgWorkQueue(driver)
