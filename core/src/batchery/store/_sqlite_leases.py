"""Job leases on the SQLite file: claim when free or expired, renew, release, cancel requests.

Each is one statement (a claim is an `UPDATE ... WHERE` free-or-expired), so two processes
racing for a job are decided by SQLite's single writer: exactly one claim matches.
"""

from __future__ import annotations

import time

import msgspec

from batchery.store._sqlite_db import SqliteDb
from batchery.store.base import Holder, JobHeldError, Lease, LeaseLostError, StoreError

__all__ = ["SqliteLeases"]


class SqliteLeases:
    def __init__(self, db: SqliteDb) -> None:
        self._db = db

    async def claim(
        self, job_id: str, owner: str, *, lease_s: float, gone: str | None = None
    ) -> Lease:
        now = time.time()
        async with self._db.write() as db:
            cur = await db.execute(
                "UPDATE jobs SET epoch = epoch + 1, owner = ?, lease_since = ?,"
                " lease_expires_at = ? WHERE id = ? AND (owner IS NULL OR owner IN (?, ?)"
                " OR lease_expires_at IS NULL OR lease_expires_at <= ?)"
                " RETURNING epoch, cancel_requested_at",
                (owner, now, now + lease_s, job_id, owner, gone or owner, now),
            )
            row = await cur.fetchone()
            await cur.close()
        if row is not None:
            return Lease(
                job_id=job_id,
                owner=owner,
                epoch=int(row[0]),
                expires_at=now + lease_s,
                cancel_requested=row[1] is not None,
            )
        holder = await self.holder(job_id)
        if holder is None:
            raise StoreError(f"no job {job_id!r} in the store")
        raise JobHeldError(job_id, holder)

    async def renew(self, lease: Lease, *, lease_s: float) -> Lease:
        now = time.time()
        async with self._db.write() as db:
            cur = await db.execute(
                "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND epoch = ? AND owner = ?"
                " AND lease_expires_at > ? RETURNING cancel_requested_at",
                (now + lease_s, lease.job_id, lease.epoch, lease.owner, now),
            )
            row = await cur.fetchone()
            await cur.close()
        if row is None:
            raise LeaseLostError(lease.job_id)
        return msgspec.structs.replace(
            lease, expires_at=now + lease_s, cancel_requested=row[0] is not None
        )

    async def release(self, lease: Lease) -> None:
        async with self._db.alone() as db:
            await db.execute(
                "UPDATE jobs SET owner = NULL, lease_since = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND epoch = ? AND owner = ?",
                (lease.job_id, lease.epoch, lease.owner),
            )

    async def holder(self, job_id: str) -> Holder | None:
        row = await self._db.one(
            "SELECT owner, lease_since, lease_expires_at FROM jobs WHERE id = ?", job_id
        )
        if row is None or row[0] is None or row[2] is None:
            return None
        return Holder(owner=row[0], since=row[1] or 0.0, expires_at=row[2])

    async def request_cancel(self, job_id: str) -> None:
        async with self._db.alone() as db:
            await db.execute(
                "UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, ?)"
                " WHERE id = ?",
                (time.time(), job_id),
            )
