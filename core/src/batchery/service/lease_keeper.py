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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from batchery.http import fence
from batchery.progress import ProgressBus
from batchery.service._tasks import task_group
from batchery.service.liveness import is_gone
from batchery.store import JobHeldError, JobStore, Lease, LeaseLostError

__all__ = ["LeaseKeeper", "Leases"]


class LeaseKeeper:
    """One job's lease in this process, and whether a cancel was asked for through the store."""

    def __init__(self, store: JobStore, lease: Lease, *, lease_s: float, heartbeat_s: float):
        self._store = store
        self._lease_s = lease_s
        self._heartbeat_s = heartbeat_s
        self.lease = lease
        self.lost = False
        self.cancel_requested = asyncio.Event()
        self.cancelled = False
        """Set once this process has stopped the job (status and provider), so it does so once."""
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
        """Renew every heartbeat until cancelled; raises `LeaseLostError` once it is gone.

        A heartbeat that comes late (a busy machine) still renews a lease the store says is
        live; one that comes after the lease's expiry (the process was paused past it) knows it
        lost the job without asking the store.
        """
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if self.lost or time.time() >= self.lease.expires_at:
                self.lost = True
                raise LeaseLostError(self.job_id)
            try:
                self.lease = await self._store.renew(self.lease, lease_s=self._lease_s)
            except LeaseLostError:
                self.lost = True
                raise
            if self.lease.cancel_requested:
                self.cancel_requested.set()


class Leases:
    """The leases one service holds, one per job it drives, under one owner name."""

    def __init__(
        self,
        store: JobStore,
        bus: ProgressBus,
        *,
        owner: str,
        lease_s: float,
        heartbeat_s: float,
    ) -> None:
        self._store = store
        self._bus = bus
        self._owner = owner
        self._lease_s = lease_s
        self._heartbeat_s = heartbeat_s
        self._held: dict[str, LeaseKeeper] = {}

    def drives(self, job_id: str) -> bool:
        return job_id in self._held

    @asynccontextmanager
    async def held(self, job_id: str) -> AsyncIterator[LeaseKeeper]:
        """The job's lease for the length of the block: the one this process already drives
        it with, else a fresh claim (`JobHeldError` when another live process holds it; a
        holder whose process is gone from this host is taken over at once),
        renewed by heartbeat and given up at the end.

        Claiming again from the process that drives the job would fence its own driver out.
        Inside the block every non-GET provider request checks the lease first and every
        event is fenced; a heartbeat that finds the lease gone ends the block with
        `LeaseLostError`.
        """
        driving = self._held.get(job_id)
        if driving is not None:
            with fence(driving.check):
                yield driving
            return
        try:
            lease = await self._store.claim(job_id, self._owner, lease_s=self._lease_s)
        except JobHeldError as held:
            if not is_gone(held.holder):
                raise
            lease = await self._store.claim(
                job_id, self._owner, lease_s=self._lease_s, gone=held.holder.owner
            )
        keeper = LeaseKeeper(
            self._store, lease, lease_s=self._lease_s, heartbeat_s=self._heartbeat_s
        )
        self._held[job_id] = keeper
        self._bus.fence(lease)
        try:
            with fence(keeper.check):
                async with task_group() as group:
                    beat = group.create_task(keeper.keep())
                    try:
                        yield keeper
                    finally:
                        beat.cancel()
        finally:
            del self._held[job_id]
            self._bus.unfence(job_id)
            if not keeper.lost:
                await self._store.release(keeper.lease)
