"""Job leases in PostgreSQL: claim when free or expired, renew, release, cancel requests.

Each is one `UPDATE ... WHERE` on the job row, so two processes racing for a job are decided
by the row lock: the second waits, sees the first's epoch and expiry, and matches nothing.
Expiry is on the database's clock. The `Lease` a process gets back expires, on its own clock,
`lease_s` after it sent the claim (earlier than the database's expiry, whatever the clocks
say), so its own check before each provider call errs on the side of stopping.
"""

from __future__ import annotations

import time

import msgspec
from batchery.store import Holder, JobHeldError, Lease, LeaseLostError, StoreError

from batchery_postgres._db import NOW, PgDb

__all__ = ["PgLeases"]


class PgLeases:
    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def claim(
        self, job_id: str, owner: str, *, lease_s: float, gone: str | None = None
    ) -> Lease:
        sent = time.time()
        row = await self._db.one(
            f"UPDATE jobs SET epoch = epoch + 1, owner = %s, lease_since = {NOW},"
            f" lease_expires_at = {NOW} + %s WHERE id = %s AND (owner IS NULL"
            f" OR owner IN (%s, %s) OR lease_expires_at IS NULL OR lease_expires_at <= {NOW})"
            " RETURNING epoch, cancel_requested_at",
            owner,
            lease_s,
            job_id,
            owner,
            gone or owner,
        )
        if row is not None:
            return Lease(
                job_id=job_id,
                owner=owner,
                epoch=int(row[0]),
                expires_at=sent + lease_s,
                cancel_requested=row[1] is not None,
            )
        holder = await self.holder(job_id)
        if holder is None:
            raise StoreError(f"no job {job_id!r} in the store")
        raise JobHeldError(job_id, holder)

    async def renew(self, lease: Lease, *, lease_s: float) -> Lease:
        sent = time.time()
        row = await self._db.one(
            f"UPDATE jobs SET lease_expires_at = {NOW} + %s WHERE id = %s AND epoch = %s"
            f" AND owner = %s AND lease_expires_at > {NOW} RETURNING cancel_requested_at",
            lease_s,
            lease.job_id,
            lease.epoch,
            lease.owner,
        )
        if row is None:
            raise LeaseLostError(lease.job_id)
        return msgspec.structs.replace(
            lease, expires_at=sent + lease_s, cancel_requested=row[0] is not None
        )

    async def release(self, lease: Lease) -> None:
        await self._db.run(
            "UPDATE jobs SET owner = NULL, lease_since = NULL, lease_expires_at = NULL"
            " WHERE id = %s AND epoch = %s AND owner = %s",
            lease.job_id,
            lease.epoch,
            lease.owner,
        )

    async def holder(self, job_id: str) -> Holder | None:
        row = await self._db.one(
            "SELECT owner, lease_since, lease_expires_at FROM jobs WHERE id = %s", job_id
        )
        if row is None or row[0] is None or row[2] is None:
            return None
        return Holder(owner=row[0], since=row[1] or 0.0, expires_at=row[2])

    async def request_cancel(self, job_id: str) -> None:
        await self._db.run(
            f"UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, {NOW})"
            " WHERE id = %s",
            job_id,
        )
