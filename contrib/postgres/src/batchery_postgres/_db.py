"""One PostgreSQL database: its connection pool, transactions, the lease fence, the clock.

Every connection runs in autocommit; a write that needs more than one statement opens an
explicit transaction. Leases are compared on the database's clock (`NOW`), the one clock all
hosts share. A lock wait longer than `busy_timeout_s` (`lock_timeout`) or no free connection
within it reports the store busy (`StoreBusyError`), as SQLite's busy timeout does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import msgspec
import psycopg
from batchery.logging import register_secret
from batchery.secrets import shown_url
from batchery.store import (
    Lease,
    LeaseLostError,
    StoreBusyError,
    StoreError,
    StoreUnavailableError,
)
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from batchery_postgres._schema import migrate

__all__ = ["NOW", "PAGE", "Conn", "PgDb", "decode", "encode", "fenced"]

NOW = "extract(epoch from clock_timestamp())::float8"
"""The database's clock in Unix seconds, as SQL."""

PAGE = 1000
"""Input positions per window when streaming a job's requests or results, and rows per bulk
statement."""

_REGISTERED_LENGTH = 8
"""A URL's password this long is also redacted from every log line on its own; a shorter one
would mask common words (the URL form `user:***@host` is always masked)."""

Conn = AsyncConnection[TupleRow]
_T = TypeVar("_T")
_encoder = msgspec.json.Encoder()


def encode(value: object) -> bytes:
    return _encoder.encode(value)


def decode(body: bytes, type_: type[_T]) -> _T:
    return msgspec.json.decode(body, type=type_)


class PgDb:
    """The pool shared by the job store, its leases, the result cache and the run history."""

    def __init__(self, url: str, *, busy_timeout_s: float, pool_size: int = 8) -> None:
        self.url = url
        self.shown = shown_url(url)
        password = unquote(urlsplit(url).password or "")
        if len(password) >= _REGISTERED_LENGTH:
            register_secret(password)
        self.busy_timeout_s = busy_timeout_s
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[Conn] | None = None

    async def open(self) -> None:
        """Migrate on one connection of its own, then open the pool."""
        try:
            async with await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=max(1, round(self.busy_timeout_s))
            ) as conn:
                await migrate(conn)
        except psycopg.OperationalError as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = lines[0] if lines else type(exc).__name__
            raise StoreUnavailableError(
                f"cannot open the job store {self.shown}: {reason}"
            ) from None
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            kwargs={"autocommit": True},
            configure=self._configure,
            timeout=self.busy_timeout_s,
        )
        await pool.open(wait=True, timeout=self.busy_timeout_s)
        self._pool = pool

    async def _configure(self, conn: Conn) -> None:
        await conn.execute(
            "SELECT set_config('lock_timeout', %s, false)",
            (f"{round(self.busy_timeout_s * 1000)}ms",),
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> AsyncConnectionPool[Conn]:
        if self._pool is None:
            raise StoreError("the job store is not open")
        return self._pool

    @asynccontextmanager
    async def conn(self) -> AsyncIterator[Conn]:
        """A pooled connection in autocommit, for statements that stand alone."""
        with self._busy():
            async with self.pool.connection() as conn:
                yield conn

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Conn]:
        """A pooled connection inside one transaction, committed at the end, rolled back on
        any error."""
        with self._busy():
            async with self.pool.connection() as conn, conn.transaction():
                yield conn

    @contextmanager
    def _busy(self) -> Iterator[None]:
        try:
            yield
        except (psycopg.errors.LockNotAvailable, PoolTimeout):
            raise StoreBusyError(
                f"the job store {self.shown} stayed busy for {self.busy_timeout_s:g}s"
                " (another process holds a lock it needs, or every connection is in use);"
                " try again, or raise store_busy_timeout_s"
            ) from None

    async def run(self, sql: str, *params: Any) -> int:
        """Run one statement on its own; returns how many rows it touched."""
        async with self.conn() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    async def one(self, sql: str, *params: Any) -> TupleRow | None:
        async with self.conn() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

    async def all(self, sql: str, *params: Any) -> list[TupleRow]:
        """Every row, in binary: a `bytea` body arrives as its bytes, not as hex to decode."""
        async with self.conn() as conn:
            cur = await conn.execute(sql, params, binary=True)
            return await cur.fetchall()

    async def windows(self, sql: str, job_id: str, type_: type[_T]) -> AsyncIterator[_T]:
        """Bodies of the job's rows, `PAGE` input positions at a time, in input order.

        `sql` selects one body per row for `%(job)s` with `%(low)s < idx <= %(high)s`. Each
        query touches one bounded window of the `(job_id, idx)` indexes whatever the
        planner's statistics say (they lag behind a job just loaded), so a job of any size
        streams in bounded memory and in time linear in its size.
        """
        row = await self.one("SELECT max(idx) FROM requests WHERE job_id = %s", job_id)
        end = -1 if row is None or row[0] is None else int(row[0])
        for low in range(-1, end, PAGE):
            window = {"job": job_id, "low": low, "high": low + PAGE}
            async with self.conn() as conn:
                cur = await conn.execute(sql, window, binary=True)
                rows = await cur.fetchall()
            for (body,) in rows:
                yield decode(body, type_)


async def fenced(conn: Conn, lease: Lease, *, exclusive: bool = False) -> None:
    """Refuse the write unless `lease` still holds the job's epoch and has not expired, and
    lock the job row until the transaction ends, so no claim can slip in before it commits.

    `exclusive` (a write to the job row itself) takes the row lock that write needs at once.
    """
    lock = "FOR NO KEY UPDATE" if exclusive else "FOR SHARE"
    cur = await conn.execute(
        f"SELECT 1 FROM jobs WHERE id = %s AND epoch = %s AND lease_expires_at > {NOW} {lock}",
        (lease.job_id, lease.epoch),
    )
    if await cur.fetchone() is None:
        raise LeaseLostError(lease.job_id)
