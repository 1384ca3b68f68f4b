"""One SQLite file: its schema, its migrations, and the single-writer transaction discipline.

WAL lets readers go on while one writer commits; `synchronous=FULL` keeps a committed
submission intent across a power cut. The schema version lives in `PRAGMA user_version`, and
each migration brings an older file forward in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec

from batchery.store.base import Lease, LeaseLostError, StoreError

__all__ = ["SqliteDb", "decode", "encode", "path_of"]

_BASE_SCHEMA = """
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

_MIGRATIONS: tuple[str, ...] = (
    """
    ALTER TABLE results ADD COLUMN mode TEXT;
    ALTER TABLE results ADD COLUMN cost_usd REAL;
    ALTER TABLE results ADD COLUMN realtime_cost_usd REAL;
    ALTER TABLE results ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE results ADD COLUMN created_at REAL;
    CREATE INDEX IF NOT EXISTS results_created ON results (created_at);
    CREATE TABLE IF NOT EXISTS result_cache (
        key TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS result_cache_created ON result_cache (created_at);
    CREATE TABLE IF NOT EXISTS turnarounds (
        provider TEXT NOT NULL,
        model TEXT,
        requests INTEGER NOT NULL,
        seconds REAL NOT NULL,
        finished_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS turnarounds_key ON turnarounds (provider, model, finished_at);
    """,
    # Answers and history belong to the endpoint they came from. Cached answers stored before
    # had no endpoint in their key and could never be served again, so they go.
    """
    DELETE FROM result_cache;
    ALTER TABLE result_cache ADD COLUMN endpoint TEXT;
    ALTER TABLE result_cache ADD COLUMN base_url TEXT;
    ALTER TABLE result_cache ADD COLUMN emulated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE turnarounds ADD COLUMN endpoint TEXT;
    CREATE INDEX IF NOT EXISTS turnarounds_endpoint ON turnarounds (endpoint, model, finished_at);
    """,
)

_T = TypeVar("_T")
_encoder = msgspec.json.Encoder()


def encode(value: object) -> bytes:
    return _encoder.encode(value)


def decode(body: bytes, type_: type[_T]) -> _T:
    return msgspec.json.decode(body, type=type_)


def path_of(url: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if "://" in url:
        raise StoreError(f"{url!r} is not a SQLite store URL (expected sqlite:///path or a path)")
    return Path(url)


class SqliteDb:
    """The open connection, shared by the job store, the result cache and the run history."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=5000",
        ):
            await db.execute(f"PRAGMA {pragma}")
        await db.executescript(_BASE_SCHEMA)
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, migration in enumerate(_MIGRATIONS[version:], start=version + 1):
            await db.executescript(
                f"BEGIN IMMEDIATE; {migration}; PRAGMA user_version = {number}; COMMIT;"
            )
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the job store is not open")
        return self._db

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection with no transaction open, for one self-contained statement."""
        async with self._write_lock:
            yield self.conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One `BEGIN IMMEDIATE` transaction at a time; rolled back on any error."""
        async with self._write_lock:
            db = self.conn
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def fenced(self, db: aiosqlite.Connection, lease: Lease) -> None:
        """Refuse the write unless `lease` still holds the job's current epoch."""
        async with db.execute("SELECT epoch FROM jobs WHERE id = ?", (lease.job_id,)) as cur:
            row = await cur.fetchone()
        if row is None or row[0] != lease.epoch:
            raise LeaseLostError(f"job {lease.job_id} was claimed by another owner")

    async def one(self, sql: str, *params: Any) -> Any:
        async with self.conn.execute(sql, params) as cur:
            return await cur.fetchone()
