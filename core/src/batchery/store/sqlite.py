"""The single-instance job store on SQLite: WAL, `synchronous=FULL`, one writer at a time.

One process owns the file. Submission state must survive a crash or a power cut, hence FULL;
results are idempotent (one row per `(job, custom_id)`), so a replayed collect is harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec

from batchery.model import (
    BatchState,
    ChunkState,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
)
from batchery.spi import MalformedLine
from batchery.store.base import (
    ChunkRecord,
    JobCounts,
    Lease,
    LeaseLostError,
    PlannedRequest,
    StoreError,
)

__all__ = ["SqliteJobStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    fingerprint TEXT,
    status TEXT NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    created_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_fingerprint ON jobs (fingerprint, created_at);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    idx INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (job_id, idx)
);
CREATE TABLE IF NOT EXISTS requests (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    idx INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    chunk_id TEXT,
    body BLOB NOT NULL,
    PRIMARY KEY (job_id, custom_id),
    UNIQUE (job_id, idx)
);
CREATE INDEX IF NOT EXISTS requests_chunk ON requests (chunk_id, idx);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT NOT NULL,
    custom_id TEXT NOT NULL,
    ok INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (job_id, custom_id),
    FOREIGN KEY (job_id, custom_id) REFERENCES requests (job_id, custom_id)
);
CREATE TABLE IF NOT EXISTS quarantine (
    job_id TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (job_id, seq)
);
"""

_WRITE_BATCH = 1000


def _path_of(url: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if "://" in url:
        raise StoreError(f"{url!r} is not a SQLite store URL (expected sqlite:///path or a path)")
    return Path(url)


class SqliteJobStore:
    """`JobStore` on one SQLite file. Open it once per process; it is not shared across hosts."""

    def __init__(self, url: str) -> None:
        self._path = _path_of(url)
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    @property
    def path(self) -> Path:
        return self._path

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self._path, isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=5000",
        ):
            await db.execute(f"PRAGMA {pragma}")
        await db.executescript(_SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the job store is not open")
        return self._db

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            db = self._conn
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _fenced(self, db: aiosqlite.Connection, lease: Lease) -> None:
        async with db.execute("SELECT epoch FROM jobs WHERE id = ?", (lease.job_id,)) as cur:
            row = await cur.fetchone()
        if row is None or row[0] != lease.epoch:
            raise LeaseLostError(f"job {lease.job_id} was claimed by another owner")

    async def create_job(
        self, job: Job, requests: Iterable[PlannedRequest], chunks: Sequence[ChunkRecord]
    ) -> None:
        chunk_ids = {chunk.index: chunk.id for chunk in chunks}
        async with self._write() as db:
            await db.execute(
                "INSERT INTO jobs (id, fingerprint, status, created_at, body) VALUES (?,?,?,?,?)",
                (job.id, job.fingerprint, job.status, job.created_at, _enc(job)),
            )
            await db.executemany(
                "INSERT INTO chunks (id, job_id, idx, body) VALUES (?,?,?,?)",
                [(c.id, c.job_id, c.index, _enc(c)) for c in chunks],
            )
            rows: list[tuple[Any, ...]] = []
            for idx, planned in enumerate(requests):
                chunk_id = None if planned.chunk is None else chunk_ids[planned.chunk]
                rows.append(
                    (job.id, idx, planned.request.custom_id, chunk_id, _enc(planned.request))
                )
                if len(rows) >= _WRITE_BATCH:
                    await db.executemany(_INSERT_REQUEST, rows)
                    rows.clear()
            await db.executemany(_INSERT_REQUEST, rows)

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._one("SELECT body FROM jobs WHERE id = ?", job_id)
        return None if row is None else _dec(row[0], Job)

    async def find_job(self, fingerprint: str) -> Job | None:
        row = await self._one(
            "SELECT body FROM jobs WHERE fingerprint = ? ORDER BY created_at DESC LIMIT 1",
            fingerprint,
        )
        return None if row is None else _dec(row[0], Job)

    async def list_jobs(self, *, limit: int = 50) -> list[Job]:
        async with self._conn.execute(
            "SELECT body FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)
        ) as cur:
            return [_dec(row[0], Job) async for row in cur]

    async def claim(self, job_id: str, owner: str) -> Lease:
        async with self._write() as db:
            cur = await db.execute(
                "UPDATE jobs SET epoch = epoch + 1, owner = ? WHERE id = ? RETURNING epoch",
                (owner, job_id),
            )
            row = await cur.fetchone()
            await cur.close()
        if row is None:
            raise StoreError(f"no job {job_id!r} in the store")
        return Lease(job_id, owner, int(row[0]))

    async def set_job_status(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        reason: str | None = None,
        error: str | None = None,
    ) -> Job:
        async with self._write() as db:
            await self._fenced(db, lease)
            job = await self._job_in(db, lease.job_id)
            if status != job.status and not job.status.can_become(status):
                raise StoreError(f"job {job.id} cannot go from {job.status} to {status}")
            job.status = status
            job.updated_at = time.time()
            job.reason = reason if reason is not None else job.reason
            job.error = error if error is not None else job.error
            await db.execute(
                "UPDATE jobs SET status = ?, body = ? WHERE id = ?", (status, _enc(job), job.id)
            )
        return job

    async def _job_in(self, db: aiosqlite.Connection, job_id: str) -> Job:
        async with db.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise StoreError(f"no job {job_id!r} in the store")
        return _dec(row[0], Job)

    async def chunks(self, job_id: str) -> list[ChunkRecord]:
        async with self._conn.execute(
            "SELECT body FROM chunks WHERE job_id = ? ORDER BY idx", (job_id,)
        ) as cur:
            return [_dec(row[0], ChunkRecord) async for row in cur]

    async def chunk_requests(self, chunk_id: str) -> list[LlmRequest]:
        async with self._conn.execute(
            "SELECT body FROM requests WHERE chunk_id = ? ORDER BY idx", (chunk_id,)
        ) as cur:
            return [_dec(row[0], LlmRequest) async for row in cur]

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
        async with self._write() as db:
            await self._fenced(db, lease)
            async with db.execute("SELECT body FROM chunks WHERE id = ?", (chunk_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                raise StoreError(f"no chunk {chunk_id!r} in the store")
            chunk = _dec(row[0], ChunkRecord)
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
            await db.execute("UPDATE chunks SET body = ? WHERE id = ?", (_enc(chunk), chunk_id))
        return chunk

    async def pending_requests(self, job_id: str) -> AsyncIterator[LlmRequest]:
        last = -1
        while True:
            async with self._conn.execute(
                "SELECT r.idx, r.body FROM requests r LEFT JOIN results s"
                " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
                " WHERE r.job_id = ? AND r.idx > ? AND s.custom_id IS NULL"
                " ORDER BY r.idx LIMIT ?",
                (job_id, last, _WRITE_BATCH),
            ) as cur:
                rows = list(await cur.fetchall())
            for idx, body in rows:
                last = idx
                yield _dec(body, LlmRequest)
            if len(rows) < _WRITE_BATCH:
                return

    async def missing_in_chunk(self, chunk_id: str) -> list[str]:
        async with self._conn.execute(
            "SELECT r.custom_id FROM requests r LEFT JOIN results s"
            " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
            " WHERE r.chunk_id = ? AND s.custom_id IS NULL ORDER BY r.idx",
            (chunk_id,),
        ) as cur:
            return [row[0] async for row in cur]

    async def save_results(
        self, lease: Lease, results: Iterable[LlmResult], *, chunk_id: str | None = None
    ) -> tuple[int, list[str]]:
        stored = 0
        unknown: list[str] = []
        scope = " AND chunk_id = ?" if chunk_id is not None else ""
        extra: tuple[Any, ...] = (chunk_id,) if chunk_id is not None else ()
        async with self._write() as db:
            await self._fenced(db, lease)
            for result in results:
                key = (lease.job_id, result.custom_id)
                cur = await db.execute(
                    "INSERT INTO results (job_id, custom_id, ok, body) SELECT ?,?,?,?"
                    f" WHERE EXISTS (SELECT 1 FROM requests WHERE job_id = ? AND custom_id = ?"
                    f"{scope}) ON CONFLICT DO NOTHING",
                    (*key, int(result.ok), _enc(result), *key, *extra),
                )
                inserted = cur.rowcount
                await cur.close()
                if inserted:
                    stored += inserted
                    continue
                async with db.execute(
                    f"SELECT 1 FROM requests WHERE job_id = ? AND custom_id = ?{scope}",
                    (*key, *extra),
                ) as check:
                    if await check.fetchone() is None:
                        unknown.append(result.custom_id)
        return stored, unknown

    async def quarantine(self, lease: Lease, chunk_id: str, lines: Iterable[MalformedLine]) -> None:
        async with self._write() as db:
            await self._fenced(db, lease)
            await db.executemany(
                "INSERT INTO quarantine (job_id, chunk_id, body) VALUES (?,?,?)",
                [(lease.job_id, chunk_id, _enc(line)) for line in lines],
            )

    async def quarantined(self, job_id: str) -> list[MalformedLine]:
        async with self._conn.execute(
            "SELECT body FROM quarantine WHERE job_id = ? ORDER BY rowid", (job_id,)
        ) as cur:
            return [_dec(row[0], MalformedLine) async for row in cur]

    async def counts(self, job_id: str) -> JobCounts:
        row = await self._one(
            "SELECT (SELECT count(*) FROM requests WHERE job_id = ?),"
            " (SELECT count(*) FROM results WHERE job_id = ? AND ok = 1),"
            " (SELECT count(*) FROM results WHERE job_id = ? AND ok = 0)",
            job_id,
            job_id,
            job_id,
        )
        assert row is not None
        return JobCounts(int(row[0]), int(row[1]), int(row[2]))

    async def results(self, job_id: str) -> AsyncIterator[LlmResult]:
        last = -1
        while True:
            async with self._conn.execute(
                "SELECT r.idx, s.body FROM requests r JOIN results s"
                " ON s.job_id = r.job_id AND s.custom_id = r.custom_id"
                " WHERE r.job_id = ? AND r.idx > ? ORDER BY r.idx LIMIT ?",
                (job_id, last, _WRITE_BATCH),
            ) as cur:
                rows = list(await cur.fetchall())
            for idx, body in rows:
                last = idx
                yield _dec(body, LlmResult)
            if len(rows) < _WRITE_BATCH:
                return

    async def append_event(self, job_id: str, encode: Callable[[int], bytes]) -> int:
        async with self._write() as db:
            async with db.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE job_id = ?", (job_id,)
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            seq = int(row[0])
            await db.execute(
                "INSERT INTO events (job_id, seq, body) VALUES (?,?,?)",
                (job_id, seq, encode(seq)),
            )
        return seq

    async def events(self, job_id: str, *, after_seq: int = 0) -> list[tuple[int, bytes]]:
        async with self._conn.execute(
            "SELECT seq, body FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
            (job_id, after_seq),
        ) as cur:
            return [(int(row[0]), bytes(row[1])) async for row in cur]

    async def _one(self, sql: str, *params: Any) -> Any:
        async with self._conn.execute(sql, params) as cur:
            return await cur.fetchone()


_INSERT_REQUEST = "INSERT INTO requests (job_id, idx, custom_id, chunk_id, body) VALUES (?,?,?,?,?)"
_encoder = msgspec.json.Encoder()
_T = TypeVar("_T")


def _enc(value: object) -> bytes:
    return _encoder.encode(value)


def _dec(body: bytes, type_: type[_T]) -> _T:
    return msgspec.json.decode(body, type=type_)
