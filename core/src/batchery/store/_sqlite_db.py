"""One SQLite file: its schema, its migrations, and the single-writer transaction discipline.

WAL lets readers go on while one writer commits; `synchronous=FULL` keeps a committed
submission intent across a power cut. The schema version lives in `PRAGMA user_version`, and
each migration brings an older file forward in place.

Every transaction holds SQLite's write lock only for its own statements, never across a call
or a sleep; opening a file that is already up to date takes no write lock at all. Another
process's transaction is waited for up to `busy_timeout_s`; past that the store reports itself
busy (`StoreBusyError`) rather than a raw `database is locked`.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
import msgspec

from batchery.store.base import Lease, LeaseLostError, StoreBusyError, StoreError

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
    """
    -- Leases expire; a job is made once per fingerprint (older duplicates lose theirs).
    ALTER TABLE jobs ADD COLUMN lease_since REAL;
    ALTER TABLE jobs ADD COLUMN lease_expires_at REAL;
    ALTER TABLE jobs ADD COLUMN cancel_requested_at REAL;
    UPDATE jobs SET fingerprint = NULL WHERE fingerprint IS NOT NULL AND EXISTS (
        SELECT 1 FROM jobs AS newer WHERE newer.fingerprint = jobs.fingerprint
        AND (newer.created_at > jobs.created_at
             OR (newer.created_at = jobs.created_at AND newer.id > jobs.id))
    );
    CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_per_fingerprint ON jobs (fingerprint);
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
    # Each request's cache key is kept in the ledger, so a finished job's answers are cached
    # by one statement in the store; jobs stored before have none and teach the cache nothing.
    """
    ALTER TABLE requests ADD COLUMN cache_key TEXT;
    """,
)

_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.IGNORECASE)
_T = TypeVar("_T")
_encoder = msgspec.json.Encoder()


def encode(value: object) -> bytes:
    return _encoder.encode(value)


_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def decode(body: bytes, type_: type[_T]) -> _T:
    """`body` as `type_`, through one decoder per type: `msgspec.json.decode(type=...)` works
    the type out again on every call, which costs more than decoding a small row."""
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    return cast(_T, decoder.decode(body))


def path_of(url: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if "://" in url:
        raise StoreError(f"{url!r} is not a SQLite store URL (expected sqlite:///path or a path)")
    return Path(url)


async def _version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _migrate(db: aiosqlite.Connection, number: int, migration: str) -> None:
    """Apply migration `number` unless the file already has it, reading the version inside
    the write transaction: two processes opening an old file at once migrate it once."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        if await _version(db) < number:
            for statement in _statements(migration):
                if not await _has_column_already(db, statement):
                    await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")


async def _has_column_already(db: aiosqlite.Connection, statement: str) -> bool:
    """Whether `statement` adds a column the table has: a file whose schema was laid down
    whole at a newer version, then stamped older, migrates without a duplicate column."""
    added = _ADD_COLUMN.match(statement)
    if added is None:
        return False
    async with db.execute(f"PRAGMA table_info({added[1]})") as cur:
        return any(row[1] == added[2] for row in await cur.fetchall())


def _statements(script: str) -> Iterator[str]:
    """The script's statements one by one, split where SQLite itself says one is complete."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""


class SqliteDb:
    """The open connection, shared by the job store, the result cache and the run history."""

    def __init__(self, path: Path, *, busy_timeout_s: float) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            with self._busy():
                for pragma in (
                    f"busy_timeout={round(self.busy_timeout_s * 1000)}",
                    "journal_mode=WAL",
                    "synchronous=FULL",
                    "foreign_keys=ON",
                ):
                    await db.execute(f"PRAGMA {pragma}")
                if await _version(db) < len(_MIGRATIONS):
                    await db.executescript(_BASE_SCHEMA)
                    for number, migration in enumerate(_MIGRATIONS, start=1):
                        await _migrate(db, number, migration)
        except BaseException:
            await db.close()
            raise
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
            with self._busy():
                yield self.conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One `BEGIN IMMEDIATE` transaction at a time; rolled back on any error."""
        async with self._write_lock:
            db = self.conn
            with self._busy():
                await db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        await db.execute("ROLLBACK")
                    raise
                await db.execute("COMMIT")

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """SQLite's own wait for another writer ran out: say which file and for how long."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" not in text and "busy" not in text:
                raise
            raise StoreBusyError(
                f"the job store {self.path} stayed busy for {self.busy_timeout_s:g}s"
                " (another process holds its write lock); try again, or raise"
                " store_busy_timeout_s"
            ) from None

    async def fenced(self, db: aiosqlite.Connection, lease: Lease) -> None:
        """Refuse the write unless `lease` still holds the job's epoch and has not expired."""
        async with db.execute(
            "SELECT epoch, lease_expires_at FROM jobs WHERE id = ?", (lease.job_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None or row[0] != lease.epoch or row[1] is None or row[1] <= time.time():
            raise LeaseLostError(lease.job_id)

    async def one(self, sql: str, *params: Any) -> Any:
        async with self.conn.execute(sql, params) as cur:
            return await cur.fetchone()
