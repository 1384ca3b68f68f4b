"""The job store on PostgreSQL, for many processes on many hosts sharing one database.

Same contract as the SQLite store: one job per fingerprint, leases with an expiry on the
database's clock and an epoch that fences every write, results stored once per
`(job, custom_id)`. Each job row carries its tenant, so listing one tenant's jobs is one
indexed query.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import msgspec
from batchery.model import (
    BatchState,
    ChunkState,
    Endpoint,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
)
from batchery.spi import MalformedLine
from batchery.store import (
    DEFAULT_BUSY_TIMEOUT_S,
    ChunkRecord,
    Holder,
    JobCounts,
    Lease,
    PlannedRequest,
    StoreError,
)

from batchery_postgres._db import Conn, PgDb, decode, encode, fenced
from batchery_postgres._events import PgEvents
from batchery_postgres._extras import PgHistory, PgResultCache
from batchery_postgres._leases import PgLeases
from batchery_postgres._results import PgResults

__all__ = ["DEFAULT_TENANT", "PostgresJobStore"]

DEFAULT_TENANT = "default"
"""The tenant of a job created without one (every job, until work is submitted per tenant)."""


class PostgresJobStore:
    """`JobStore` on a PostgreSQL database (`postgresql://user:password@host:port/db`)."""

    def __init__(self, url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._db = PgDb(url, busy_timeout_s=busy_timeout_s)
        self._cache = PgResultCache(self._db)
        self._history = PgHistory(self._db)
        self._leases = PgLeases(self._db)
        self._results = PgResults(self._db)
        self._events = PgEvents(self._db)

    @property
    def cache(self) -> PgResultCache:
        return self._cache

    @property
    def history(self) -> PgHistory:
        return self._history

    @property
    def url(self) -> str:
        """The store's URL as it may be shown: without its password."""
        return self._db.shown

    async def open(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    async def create_job(
        self,
        job: Job,
        requests: Iterable[PlannedRequest],
        chunks: Sequence[ChunkRecord],
        *,
        replace: bool = False,
    ) -> Job:
        """The job row first: a second process inserting the same fingerprint waits on the
        unique index until this transaction ends, then finds this job and stores nothing.

        The row's event counter starts after any events already logged under the job's id
        (a node run logs some before it makes its job)."""
        chunk_ids = {chunk.index: chunk.id for chunk in chunks}
        async with self._db.tx() as conn:
            if job.fingerprint is not None and replace:
                await conn.execute(
                    "UPDATE jobs SET fingerprint = NULL WHERE fingerprint = %s", (job.fingerprint,)
                )
            cur = await conn.execute(
                "INSERT INTO jobs (id, tenant, fingerprint, status, created_at, body, last_seq)"
                " VALUES (%s, %s, %s, %s, %s, %s,"
                " (SELECT coalesce(max(seq), 0) FROM events WHERE job_id = %s))"
                " ON CONFLICT (fingerprint) DO NOTHING",
                (
                    job.id,
                    job.tenant or DEFAULT_TENANT,
                    job.fingerprint,
                    job.status,
                    job.created_at,
                    encode(job),
                    job.id,
                ),
            )
            if cur.rowcount == 0:
                found = await conn.execute(
                    "SELECT body FROM jobs WHERE fingerprint = %s", (job.fingerprint,)
                )
                row = await found.fetchone()
                if row is None:
                    raise StoreError(f"job {job.id}: its fingerprint's job vanished; try again")
                return decode(row[0], Job)
            async with conn.cursor().copy("COPY chunks (id, job_id, idx, body) FROM STDIN") as copy:
                for chunk in chunks:
                    await copy.write_row((chunk.id, chunk.job_id, chunk.index, encode(chunk)))
            async with conn.cursor().copy(
                "COPY requests (job_id, idx, custom_id, chunk_id, body, cache_key) FROM STDIN"
            ) as copy:
                for idx, planned in enumerate(requests):
                    chunk_id = None if planned.chunk is None else chunk_ids[planned.chunk]
                    await copy.write_row(
                        (
                            job.id,
                            idx,
                            planned.request.custom_id,
                            chunk_id,
                            encode(planned.request),
                            planned.cache_key,
                        )
                    )
        return job

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._db.one("SELECT body FROM jobs WHERE id = %s", job_id)
        return None if row is None else decode(row[0], Job)

    async def find_job(self, fingerprint: str) -> Job | None:
        row = await self._db.one(
            "SELECT body FROM jobs WHERE fingerprint = %s ORDER BY created_at DESC LIMIT 1",
            fingerprint,
        )
        return None if row is None else decode(row[0], Job)

    async def list_jobs(self, *, limit: int = 50, tenant: str | None = None) -> list[Job]:
        """The newest jobs, of one tenant when given, chosen and ordered by the database."""
        if tenant is None:
            rows = await self._db.all(
                "SELECT body FROM jobs ORDER BY created_at DESC, id DESC LIMIT %s", limit
            )
        else:
            rows = await self._db.all(
                "SELECT body FROM jobs WHERE tenant = %s ORDER BY created_at DESC, id DESC"
                " LIMIT %s",
                tenant,
                limit,
            )
        return [decode(row[0], Job) for row in rows]

    async def claim(
        self, job_id: str, owner: str, *, lease_s: float, gone: str | None = None
    ) -> Lease:
        return await self._leases.claim(job_id, owner, lease_s=lease_s, gone=gone)

    async def renew(self, lease: Lease, *, lease_s: float) -> Lease:
        return await self._leases.renew(lease, lease_s=lease_s)

    async def release(self, lease: Lease) -> None:
        await self._leases.release(lease)

    async def holder(self, job_id: str) -> Holder | None:
        return await self._leases.holder(job_id)

    async def request_cancel(self, job_id: str) -> None:
        await self._leases.request_cancel(job_id)

    async def set_endpoint(self, lease: Lease, endpoint: Endpoint) -> Job:
        async with self._db.tx() as conn:
            await fenced(conn, lease, exclusive=True)
            job = await _job_in(conn, lease.job_id)
            job.endpoint = endpoint
            await conn.execute("UPDATE jobs SET body = %s WHERE id = %s", (encode(job), job.id))
        return job

    async def reopen(self, lease: Lease, *, permanent: bool) -> int:
        async with self._db.tx() as conn:
            await fenced(conn, lease, exclusive=True)
            job = await _job_in(conn, lease.job_id)
            if job.status is not JobStatus.COMPLETED:
                return 0
            pending = await self._results.drop_errors(conn, job.id, permanent=permanent)
            if pending:
                job.status = JobStatus.RUNNING
                job.updated_at = time.time()
                await _put_job(conn, job)
        return pending

    async def set_job_status(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        reason: str | None = None,
    ) -> Job:
        async with self._db.tx() as conn:
            await fenced(conn, lease, exclusive=True)
            job = await _job_in(conn, lease.job_id)
            if status != job.status and not job.status.can_become(status):
                raise StoreError(f"job {job.id} cannot go from {job.status} to {status}")
            job.status = status
            job.updated_at = time.time()
            job.reason = reason if reason is not None else job.reason
            await _put_job(conn, job)
        return job

    async def chunks(self, job_id: str) -> list[ChunkRecord]:
        rows = await self._db.all("SELECT body FROM chunks WHERE job_id = %s ORDER BY idx", job_id)
        return [decode(row[0], ChunkRecord) for row in rows]

    async def chunk_requests(self, chunk_id: str) -> list[LlmRequest]:
        rows = await self._db.all(
            "SELECT body FROM requests WHERE chunk_id = %s ORDER BY idx", chunk_id
        )
        return [decode(row[0], LlmRequest) for row in rows]

    async def update_chunk(
        self,
        lease: Lease,
        chunk_id: str,
        *,
        state: ChunkState | None = None,
        submit_key: str | None = None,
        intent_at: float | None = None,
        batch: BatchState | None = None,
        attempts: int | None = None,
        error: str | None = None,
    ) -> ChunkRecord:
        changes: dict[str, Any] = {
            "state": state,
            "submit_key": submit_key,
            "intent_at": intent_at,
            "attempts": attempts,
            "error": error,
        }
        if batch is not None:
            changes |= {"batch_id": batch.batch_id, "batch_status": batch.status}
        async with self._db.tx() as conn:
            await fenced(conn, lease)
            cur = await conn.execute(
                "SELECT body FROM chunks WHERE id = %s FOR UPDATE", (chunk_id,)
            )
            row = await cur.fetchone()
            if row is None:
                raise StoreError(f"no chunk {chunk_id!r} in the store")
            chunk = msgspec.structs.replace(
                decode(row[0], ChunkRecord), **{k: v for k, v in changes.items() if v is not None}
            )
            await conn.execute(
                "UPDATE chunks SET body = %s WHERE id = %s", (encode(chunk), chunk_id)
            )
        return chunk

    async def pending_requests(
        self, job_id: str, *, chunked: bool | None = None
    ) -> AsyncIterator[LlmRequest]:
        scope = {None: "", True: " AND r.chunk_id IS NOT NULL", False: " AND r.chunk_id IS NULL"}
        async for request in self._db.windows(
            "SELECT r.body FROM requests r"
            " WHERE r.job_id = %(job)s AND r.idx > %(low)s AND r.idx <= %(high)s"
            f"{scope[chunked]} AND NOT EXISTS (SELECT 1 FROM results s"
            " WHERE s.job_id = r.job_id AND s.idx = r.idx) ORDER BY r.idx",
            job_id,
            LlmRequest,
        ):
            yield request

    async def requests(self, job_id: str) -> AsyncIterator[LlmRequest]:
        async for request in self._db.windows(
            "SELECT body FROM requests WHERE job_id = %(job)s AND idx > %(low)s"
            " AND idx <= %(high)s ORDER BY idx",
            job_id,
            LlmRequest,
        ):
            yield request

    async def missing_in_chunk(self, chunk_id: str) -> list[str]:
        return await self._results.missing_in_chunk(chunk_id)

    async def save_results(
        self, lease: Lease, results: Iterable[LlmResult], *, chunk_id: str | None = None
    ) -> tuple[int, list[str]]:
        return await self._results.save(lease, results, chunk_id=chunk_id)

    async def quarantine(self, lease: Lease, chunk_id: str, lines: Iterable[MalformedLine]) -> None:
        await self._results.quarantine(lease, chunk_id, lines)

    async def quarantined(self, job_id: str) -> list[MalformedLine]:
        return await self._results.quarantined(job_id)

    async def counts(self, job_id: str) -> JobCounts:
        return await self._results.counts(job_id)

    async def results(self, job_id: str) -> AsyncIterator[LlmResult]:
        async for result in self._db.windows(
            "SELECT body FROM results WHERE job_id = %(job)s AND idx > %(low)s"
            " AND idx <= %(high)s ORDER BY idx",
            job_id,
            LlmResult,
        ):
            yield result

    async def append_event(
        self, job_id: str, encode: Callable[[int], bytes], *, lease: Lease | None = None
    ) -> int:
        return await self._events.append(job_id, encode, lease=lease)

    async def events(
        self, job_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        return await self._events.after(job_id, after_seq=after_seq, limit=limit)


async def _job_in(conn: Conn, job_id: str) -> Job:
    cur = await conn.execute("SELECT body FROM jobs WHERE id = %s", (job_id,))
    row = await cur.fetchone()
    if row is None:
        raise StoreError(f"no job {job_id!r} in the store")
    return decode(row[0], Job)


async def _put_job(conn: Conn, job: Job) -> None:
    await conn.execute(
        "UPDATE jobs SET status = %s, body = %s WHERE id = %s", (job.status, encode(job), job.id)
    )
