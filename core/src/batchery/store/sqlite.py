"""The job store on one SQLite file: WAL, `synchronous=FULL`, one writer at a time.

Processes on one host may share the file: each job is driven by whoever holds its lease, and
the rest follow it. Submission state must survive a crash or a power cut, hence FULL; results
are idempotent (one row per `(job, custom_id)`), so a replayed collect is harmless.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
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
from batchery.store._sqlite_db import SqliteDb, decode, encode, path_of
from batchery.store._sqlite_extras import SqliteHistory, SqliteResultCache
from batchery.store._sqlite_leases import SqliteLeases
from batchery.store.base import (
    ChunkRecord,
    Holder,
    JobCounts,
    Lease,
    LeaseLostError,
    PlannedRequest,
    StoreError,
)

__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "SqliteJobStore"]

DEFAULT_BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another process's transaction before the store reports busy."""

_WRITE_BATCH = 1000
_LOOKUP_BATCH = 500
_T = TypeVar("_T")
_INSERT_REQUEST = (
    "INSERT INTO requests (job_id, idx, custom_id, chunk_id, body, cache_key) VALUES (?,?,?,?,?,?)"
)


class SqliteJobStore:
    """`JobStore` on one SQLite file. Open it once per process; it is not shared across hosts
    (leases compare expiry on the host's clock)."""

    def __init__(self, url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._db = SqliteDb(path_of(url), busy_timeout_s=busy_timeout_s)
        self._next_seq: dict[str, int] = {}
        self._cache = SqliteResultCache(self._db)
        self._history = SqliteHistory(self._db)
        self._leases = SqliteLeases(self._db)

    @property
    def cache(self) -> SqliteResultCache:
        return self._cache

    @property
    def history(self) -> SqliteHistory:
        return self._history

    @property
    def path(self) -> Path:
        return self._db.path

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
        chunk_ids = {chunk.index: chunk.id for chunk in chunks}
        async with self._db.write() as db:
            if job.fingerprint is not None and replace:
                await db.execute(
                    "UPDATE jobs SET fingerprint = NULL WHERE fingerprint = ?", (job.fingerprint,)
                )
            elif job.fingerprint is not None:
                async with db.execute(
                    "SELECT body FROM jobs WHERE fingerprint = ?", (job.fingerprint,)
                ) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    return decode(row[0], Job)
            await db.execute(
                "INSERT INTO jobs (id, fingerprint, status, created_at, body) VALUES (?,?,?,?,?)",
                (job.id, job.fingerprint, job.status, job.created_at, encode(job)),
            )
            await db.executemany(
                "INSERT INTO chunks (id, job_id, idx, body) VALUES (?,?,?,?)",
                [(c.id, c.job_id, c.index, encode(c)) for c in chunks],
            )
            rows: list[tuple[Any, ...]] = []
            for idx, planned in enumerate(requests):
                chunk_id = None if planned.chunk is None else chunk_ids[planned.chunk]
                request = planned.request
                rows.append(
                    (job.id, idx, request.custom_id, chunk_id, encode(request), planned.cache_key)
                )
                if len(rows) >= _WRITE_BATCH:
                    await db.executemany(_INSERT_REQUEST, rows)
                    rows.clear()
            await db.executemany(_INSERT_REQUEST, rows)
        return job

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._db.one("SELECT body FROM jobs WHERE id = ?", job_id)
        return None if row is None else decode(row[0], Job)

    async def find_job(self, fingerprint: str) -> Job | None:
        row = await self._db.one(
            "SELECT body FROM jobs WHERE fingerprint = ? ORDER BY created_at DESC LIMIT 1",
            fingerprint,
        )
        return None if row is None else decode(row[0], Job)

    async def list_jobs(self, *, limit: int = 50) -> list[Job]:
        async with self._db.conn.execute(
            "SELECT body FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)
        ) as cur:
            return [decode(row[0], Job) async for row in cur]

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
        async with self._db.write() as db:
            await self._db.fenced(db, lease)
            job = await self._job_in(db, lease.job_id)
            job.endpoint = endpoint
            await db.execute("UPDATE jobs SET body = ? WHERE id = ?", (encode(job), job.id))
        return job

    async def reopen(self, lease: Lease, *, permanent: bool) -> int:
        async with self._db.write() as db:
            await self._db.fenced(db, lease)
            job = await self._job_in(db, lease.job_id)
            if job.status is not JobStatus.COMPLETED:
                return 0
            cur = await db.execute(
                "DELETE FROM results WHERE job_id = ? AND ok = 0"
                " AND (? OR json_extract(body, '$.error.retryable') = 1)",
                (job.id, int(permanent)),
            )
            await cur.close()
            async with db.execute(
                "SELECT count(*) FROM requests r LEFT JOIN results s"
                " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
                " WHERE r.job_id = ? AND s.custom_id IS NULL",
                (job.id,),
            ) as counted:
                row = await counted.fetchone()
            pending = int(row[0]) if row else 0
            if pending:
                job.status = JobStatus.RUNNING
                job.updated_at = time.time()
                await db.execute(
                    "UPDATE jobs SET status = ?, body = ? WHERE id = ?",
                    (job.status, encode(job), job.id),
                )
        return pending

    async def set_job_status(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        reason: str | None = None,
    ) -> Job:
        async with self._db.write() as db:
            await self._db.fenced(db, lease)
            job = await self._job_in(db, lease.job_id)
            if status != job.status and not job.status.can_become(status):
                raise StoreError(f"job {job.id} cannot go from {job.status} to {status}")
            job.status = status
            job.updated_at = time.time()
            job.reason = reason if reason is not None else job.reason
            await db.execute(
                "UPDATE jobs SET status = ?, body = ? WHERE id = ?", (status, encode(job), job.id)
            )
        return job

    async def _job_in(self, db: aiosqlite.Connection, job_id: str) -> Job:
        async with db.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise StoreError(f"no job {job_id!r} in the store")
        return decode(row[0], Job)

    async def chunks(self, job_id: str) -> list[ChunkRecord]:
        async with self._db.conn.execute(
            "SELECT body FROM chunks WHERE job_id = ? ORDER BY idx", (job_id,)
        ) as cur:
            return [decode(row[0], ChunkRecord) async for row in cur]

    async def chunk_requests(self, chunk_id: str) -> Iterable[LlmRequest]:
        async with self._db.conn.execute(
            "SELECT body FROM requests WHERE chunk_id = ? ORDER BY idx", (chunk_id,)
        ) as cur:
            return _Decoded([row[0] for row in await cur.fetchall()], LlmRequest)

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
        async with self._db.write() as db:
            await self._db.fenced(db, lease)
            async with db.execute("SELECT body FROM chunks WHERE id = ?", (chunk_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                raise StoreError(f"no chunk {chunk_id!r} in the store")
            chunk = decode(row[0], ChunkRecord)
            changes: dict[str, Any] = {
                "state": state,
                "submit_key": submit_key,
                "intent_at": intent_at,
                "attempts": attempts,
                "error": error,
            }
            if batch is not None:
                changes |= {"batch_id": batch.batch_id, "batch_status": batch.status}
            chunk = msgspec.structs.replace(
                chunk, **{k: v for k, v in changes.items() if v is not None}
            )
            await db.execute("UPDATE chunks SET body = ? WHERE id = ?", (encode(chunk), chunk_id))
        return chunk

    async def pending_requests(
        self, job_id: str, *, chunked: bool | None = None
    ) -> AsyncIterator[LlmRequest]:
        scope = {None: "", True: " AND r.chunk_id IS NOT NULL", False: " AND r.chunk_id IS NULL"}
        async for request in self._pages(
            "SELECT r.idx, r.body FROM requests r LEFT JOIN results s"
            " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
            f" WHERE r.job_id = ? AND r.idx > ? AND s.custom_id IS NULL{scope[chunked]}"
            " ORDER BY r.idx LIMIT ?",
            job_id,
            LlmRequest,
        ):
            yield request

    async def requests(self, job_id: str) -> AsyncIterator[LlmRequest]:
        async for request in self._pages(
            "SELECT idx, body FROM requests WHERE job_id = ? AND idx > ? ORDER BY idx LIMIT ?",
            job_id,
            LlmRequest,
        ):
            yield request

    async def _pages(self, sql: str, job_id: str, type_: type[_T]) -> AsyncIterator[_T]:
        """Rows of (idx, body) page by page, so a job of any size streams in bounded memory."""
        last = -1
        while True:
            async with self._db.conn.execute(sql, (job_id, last, _WRITE_BATCH)) as cur:
                rows = list(await cur.fetchall())
            for idx, body in rows:
                last = idx
                yield decode(body, type_)
            if len(rows) < _WRITE_BATCH:
                return

    async def missing_in_chunk(self, chunk_id: str) -> list[str]:
        async with self._db.conn.execute(
            "SELECT r.custom_id FROM requests r LEFT JOIN results s"
            " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
            " WHERE r.chunk_id = ? AND s.custom_id IS NULL ORDER BY r.idx",
            (chunk_id,),
        ) as cur:
            return [row[0] async for row in cur]

    async def save_results(
        self, lease: Lease, results: Iterable[LlmResult], *, chunk_id: str | None = None
    ) -> tuple[int, list[str]]:
        """One transaction, one `executemany` per page of rows: a round trip through the
        connection's thread costs far more than a row. Only when fewer rows went in than were
        given (a replayed collect, or an id the job does not hold) are the ids looked up."""
        scope = " AND chunk_id = ?" if chunk_id is not None else ""
        extra: tuple[Any, ...] = (chunk_id,) if chunk_id is not None else ()
        insert = (
            "INSERT INTO results (job_id, custom_id, ok, body, mode, cost_usd,"
            " realtime_cost_usd, cached, created_at) SELECT ?,?,?,?,?,?,?,?,?"
            " WHERE EXISTS (SELECT 1 FROM requests WHERE job_id = ? AND custom_id = ?"
            f"{scope}) ON CONFLICT DO NOTHING"
        )
        job_id = lease.job_id
        now = time.time()
        stored = 0
        unknown: list[str] = []
        async with self._db.write() as db:
            await self._db.fenced(db, lease)
            for page in _pages_of(results, _WRITE_BATCH):
                rows = [
                    (
                        job_id,
                        result.custom_id,
                        int(result.ok),
                        encode(result),
                        result.mode,
                        result.cost_usd,
                        result.realtime_cost_usd,
                        int(result.cached),
                        now,
                        job_id,
                        result.custom_id,
                        *extra,
                    )
                    for result in page
                ]
                cur = await db.executemany(insert, rows)
                inserted = max(cur.rowcount, 0)
                await cur.close()
                stored += inserted
                if inserted < len(page):
                    ids = [result.custom_id for result in page]
                    known = await self._known_ids(db, job_id, ids, scope, extra)
                    unknown += [cid for cid in ids if cid not in known]
        return stored, unknown

    @staticmethod
    async def _known_ids(
        db: aiosqlite.Connection, job_id: str, ids: list[str], scope: str, extra: tuple[Any, ...]
    ) -> set[str]:
        """Which of `ids` the job (within the scope) holds, looked up a page at a time."""
        known: set[str] = set()
        for start in range(0, len(ids), _LOOKUP_BATCH):
            part = ids[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            async with db.execute(
                f"SELECT custom_id FROM requests WHERE job_id = ? AND custom_id IN ({marks})"
                f"{scope}",
                (job_id, *part, *extra),
            ) as cur:
                known.update(row[0] for row in await cur.fetchall())
        return known

    async def quarantine(self, lease: Lease, chunk_id: str, lines: Iterable[MalformedLine]) -> None:
        async with self._db.write() as db:
            await self._db.fenced(db, lease)
            await db.executemany(
                "INSERT INTO quarantine (job_id, chunk_id, body) VALUES (?,?,?)",
                [(lease.job_id, chunk_id, encode(line)) for line in lines],
            )

    async def quarantined(self, job_id: str) -> list[MalformedLine]:
        async with self._db.conn.execute(
            "SELECT body FROM quarantine WHERE job_id = ? ORDER BY rowid", (job_id,)
        ) as cur:
            return [decode(row[0], MalformedLine) async for row in cur]

    async def counts(self, job_id: str) -> JobCounts:
        row = await self._db.one(
            "SELECT (SELECT count(*) FROM requests WHERE job_id = ?),"
            " coalesce(sum(ok), 0), coalesce(sum(1 - ok), 0), coalesce(sum(cost_usd), 0),"
            " coalesce(sum(realtime_cost_usd), 0), coalesce(sum(cached), 0),"
            " coalesce(sum(ok AND cost_usd IS NULL AND NOT cached), 0)"
            " FROM results WHERE job_id = ?",
            job_id,
            job_id,
        )
        assert row is not None
        return JobCounts(
            int(row[0]),
            int(row[1]),
            int(row[2]),
            cost_usd=round(float(row[3]), 8),
            realtime_cost_usd=round(float(row[4]), 8),
            cached=int(row[5]),
            unpriced=int(row[6]),
        )

    async def results(self, job_id: str) -> AsyncIterator[LlmResult]:
        async for result in self._pages(
            "SELECT r.idx, s.body FROM requests r JOIN results s"
            " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
            " WHERE r.job_id = ? AND r.idx > ? ORDER BY r.idx LIMIT ?",
            job_id,
            LlmResult,
        ):
            yield result

    async def append_event(
        self, job_id: str, encode: Callable[[int], bytes], *, lease: Lease | None = None
    ) -> int:
        """One INSERT on the hot path: the next number is remembered, and a clash with another
        writer of the same file (the primary key) makes it read the log's end again. With a
        lease, the same statement checks it, so a fenced-out process appends nothing."""
        fence, fence_params = "", cast(tuple[object, ...], ())
        if lease is not None:
            fence = (
                " WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ? AND epoch = ?"
                " AND lease_expires_at > ?)"
            )
        async with self._db.alone() as db:
            seq = self._next_seq.get(job_id) or await self._log_end(db, job_id)
            while True:
                if lease is not None:
                    fence_params = (lease.job_id, lease.epoch, time.time())
                try:
                    cur = await db.execute(
                        f"INSERT INTO events (job_id, seq, body) SELECT ?,?,?{fence}",
                        (job_id, seq, encode(seq), *fence_params),
                    )
                    inserted = cur.rowcount
                    await cur.close()
                    break
                except sqlite3.IntegrityError:
                    seq = await self._log_end(db, job_id)
            if not inserted:
                raise LeaseLostError(job_id)
            self._next_seq[job_id] = seq + 1
        return seq

    @staticmethod
    async def _log_end(db: aiosqlite.Connection, job_id: str) -> int:
        async with db.execute(
            "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE job_id = ?", (job_id,)
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def events(
        self, job_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        async with self._db.conn.execute(
            "SELECT seq, body FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (job_id, after_seq, -1 if limit is None else limit),
        ) as cur:
            return [(int(row[0]), bytes(row[1])) async for row in cur]


def _pages_of(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    page: list[_T] = []
    for item in items:
        page.append(item)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


class _Decoded(Iterable[_T]):
    """Stored bodies decoded one by one on each pass, never all at once."""

    def __init__(self, bodies: list[bytes], type_: type[_T]) -> None:
        self._bodies = bodies
        self._type = type_

    def __iter__(self) -> Iterator[_T]:
        return (decode(body, self._type) for body in self._bodies)
