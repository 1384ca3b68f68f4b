"""The job's event log in PostgreSQL: the next `seq` is a counter on the job row.

Taking the number is an `UPDATE` of that row, so appenders of one job, in any process, get
one number each in order, and with a lease the same statement is the fence: a process whose
epoch is gone or whose lease has expired gets no number and appends nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from batchery.store import Lease, LeaseLostError

from batchery_postgres._db import NOW, Conn, PgDb

__all__ = ["PgEvents"]


class PgEvents:
    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def append(
        self, job_id: str, encode: Callable[[int], bytes], *, lease: Lease | None = None
    ) -> int:
        async with self._db.tx() as conn:
            if lease is not None:
                cur = await conn.execute(
                    "UPDATE jobs SET last_seq = last_seq + 1 WHERE id = %s AND epoch = %s"
                    f" AND lease_expires_at > {NOW} RETURNING last_seq",
                    (job_id, lease.epoch),
                )
                row = await cur.fetchone()
                if row is None:
                    raise LeaseLostError(job_id)
                seq = int(row[0])
            else:
                seq = await _next_seq(conn, job_id)
            await conn.execute(
                "INSERT INTO events (job_id, seq, body) VALUES (%s, %s, %s)",
                (job_id, seq, encode(seq)),
            )
        return seq

    async def after(
        self, job_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        rows = await self._db.all(
            "SELECT seq, body FROM events WHERE job_id = %s AND seq > %s ORDER BY seq LIMIT %s",
            job_id,
            after_seq,
            limit,
        )
        return [(int(row[0]), bytes(row[1])) for row in rows]


async def _next_seq(conn: Conn, job_id: str) -> int:
    """The job row's counter; for a log with no job row, its end, under a lock of its own."""
    cur = await conn.execute(
        "UPDATE jobs SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq", (job_id,)
    )
    row = await cur.fetchone()
    if row is None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('batchery.events:' || %s))", (job_id,)
        )
        cur = await conn.execute(
            "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE job_id = %s", (job_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])
