"""Hold a job's lease while driving it: renew it by heartbeat, and stop before it can lapse.

A claim is good until its expiry on the store's clock, and nobody else can claim before then,
so a process that is sure its lease has not expired is sure it still drives the job. `check()`
answers that from memory before every provider call that creates or spends, with a margin of
one heartbeat so a pause between the check and the call still lands inside the lease. A
heartbeat that finds the lease gone (the process was paused past its expiry and another took
over) ends the drive; the next `check()` or fenced write raises `LeaseLostError` too.
"""

from __future__ import annotations

import asyncio
import time

from batchery.store import JobStore, Lease, LeaseLostError

__all__ = ["LeaseKeeper"]


class LeaseKeeper:
    """One job's lease in this process, and whether a cancel was asked for through the store."""

    def __init__(self, store: JobStore, lease: Lease, *, lease_s: float, heartbeat_s: float):
        self._store = store
        self._lease_s = lease_s
        self._heartbeat_s = heartbeat_s
        self.lease = lease
        self.lost = False
        self.cancel_requested = asyncio.Event()
        self.cancelling = False
        """Set once this process has begun to stop the job, so it stops it only once."""
        if lease.cancel_requested:
            self.cancel_requested.set()

    @property
    def job_id(self) -> str:
        return self.lease.job_id

    def check(self) -> None:
        """Raise `LeaseLostError` unless the lease surely outlasts the next provider call."""
        if self.lost or time.time() >= self.lease.expires_at - self._heartbeat_s:
            self.lost = True
            raise LeaseLostError(self.job_id)

    async def keep(self) -> None:
        """Renew every heartbeat until cancelled; raises `LeaseLostError` once it is gone."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            self.check()
            try:
                self.lease = await self._store.renew(self.lease, lease_s=self._lease_s)
            except LeaseLostError:
                self.lost = True
                raise
            if self.lease.cancel_requested:
                self.cancel_requested.set()
