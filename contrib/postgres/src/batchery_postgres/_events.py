"""The job's event log in PostgreSQL: the next `seq` is a counter on the job row.

An append is one statement: it moves the job row's counter from the number this process
expects to be next to that number, and inserts the event only if it did. Appenders of one job
in any process therefore get one number each, in order (a stale guess matches nothing and is
retried with the counter as it stands), and with a lease the same statement is the fence: a
process whose epoch is gone or whose lease has expired moves nothing and appends nothing. A
log with no job row (a graph run's own events) takes its next number under a lock of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from batchery.store import Lease, LeaseLostError

from batchery_postgres._db import NOW, PgDb

__all__ = ["PgEvents"]

_APPEND = """
WITH taken AS (
    UPDATE jobs SET last_seq = %(seq)s
    WHERE id = %(job)s AND last_seq = %(seq)s - 1{fence}
    RETURNING id
)
INSERT INTO events (job_id, seq, body) SELECT id, %(seq)s, %(body)s FROM taken
"""
_FENCE = f" AND epoch = %(epoch)s AND lease_expires_at > {NOW}"
_STATE = f"SELECT last_seq, epoch = %s AND lease_expires_at > {NOW} FROM jobs WHERE id = %s"


class PgEvents:
    def __init__(self, db: PgDb) -> None:
        self._db = db
        self._next: dict[str, int] = {}

    async def append(
        self, job_id: str, encode: Callable[[int], bytes], *, lease: Lease | None = None
    ) -> int:
        sql = _APPEND.format(fence="" if lease is None else _FENCE)
        epoch = None if lease is None else lease.epoch
        seq = self._next.get(job_id, 1)
        while True:
            params = {"job": job_id, "seq": seq, "body": encode(seq), "epoch": epoch}
            async with self._db.conn() as conn:
                appended = (await conn.execute(sql, params)).rowcount
            if appended:
                break
            row = await self._db.one(_STATE, epoch, job_id)
            if row is None:
                if lease is not None:
                    raise LeaseLostError(job_id)
                seq = await self._append_without_job(job_id, encode)
                break
            if lease is not None and not row[1]:
                raise LeaseLostError(job_id)
            seq = int(row[0]) + 1
        self._next[job_id] = seq + 1
        return seq

    async def _append_without_job(self, job_id: str, encode: Callable[[int], bytes]) -> int:
        async with self._db.tx() as conn:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('batchery.events:' || %s))", (job_id,)
            )
            cur = await conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE job_id = %s", (job_id,)
            )
            row = await cur.fetchone()
            seq = int(row[0]) if row is not None else 1
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
