"""The queue itself: pgqueuer's tables in the job store's database, and what one entry holds.

pgqueuer decides who works on what and when (priority, `execute_after`, re-picking an entry
whose worker stopped sending heartbeats); Batchery's own job lease and fencing epoch still
decide, at every write, which process may drive the job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import msgspec
import psycopg
from batchery.cli._errors import CliError
from batchery.cli._exit import ExitCode
from batchery.secrets import shown_url
from pgqueuer.db import PsycopgDriver
from pgqueuer.queries import Queries

__all__ = ["ENTRYPOINT", "QueuedRun", "enqueue", "queue_driver"]

ENTRYPOINT = "batchery.run"
"""The one kind of entry: drive the stored job `run_id` to its end."""

_INSTALL_LOCK = 0x6261746368_7175
"""Held while pgqueuer's tables are created, so processes starting at once make them once."""


class QueuedRun(msgspec.Struct, frozen=True):
    """An entry's payload: which stored job to drive, and on which provider's service."""

    run_id: str
    provider: str


@asynccontextmanager
async def queue_driver(store_url: str) -> AsyncIterator[PsycopgDriver]:
    """pgqueuer's driver on its own autocommit connection, its tables created if missing."""
    try:
        connection = await psycopg.AsyncConnection.connect(store_url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise CliError(
            f"cannot open the work queue at {shown_url(store_url)}: {str(exc).strip()}",
            ExitCode.ENVIRONMENT,
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
        yield driver


async def enqueue(
    driver: PsycopgDriver, run: QueuedRun, *, priority: int, not_before: timedelta | None
) -> bool:
    """Queue the run unless it is queued or being worked on already; whether it was queued now.

    The run id is the entry's dedupe key, so submitting one run twice queues it once.
    """
    ids = await Queries(driver).enqueue(
        ENTRYPOINT,
        msgspec.json.encode(run),
        priority=priority,
        execute_after=not_before,
        dedupe_key=run.run_id,
        on_conflict="skip",
    )
    return ids[0] is not None
