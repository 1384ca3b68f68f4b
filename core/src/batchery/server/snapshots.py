"""Authoritative run snapshots: the job row, its stored outcomes, and its folded event log.

Folding a long log on every request would be wasteful, so each run's folded state is cached
and only the events after its `seq` are read and folded the next time.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from batchery.events import decode_event
from batchery.model import Job
from batchery.server.wire import RunCounts, RunSnapshot, RunState
from batchery.store import JobStore

__all__ = ["Snapshots"]

_CACHE_SIZE: Final = 1024


class Snapshots:
    def __init__(self, store: JobStore) -> None:
        self._store = store
        self._states: OrderedDict[str, RunState] = OrderedDict()

    async def state(self, run_id: str) -> RunState:
        """The run's state as its durable event log describes it now."""
        state = self._states.pop(run_id, None) or RunState(run_id=run_id)
        for _, body in await self._store.events(run_id, after_seq=state.seq):
            state = state.apply(decode_event(body))
        self._states[run_id] = state
        if len(self._states) > _CACHE_SIZE:
            self._states.popitem(last=False)
        return state

    async def of(self, job: Job) -> RunSnapshot:
        counts = await self._store.counts(job.id)
        return RunSnapshot(
            run_id=job.id,
            status=job.status,
            provider=job.provider,
            model=job.model,
            mode=job.mode,
            created_at=job.created_at,
            updated_at=job.updated_at,
            reason=job.reason,
            counts=RunCounts(
                total=counts.total,
                succeeded=counts.succeeded,
                failed=counts.failed,
                cost_usd=counts.cost_usd,
                savings_usd=counts.savings_usd,
                cached=counts.cached,
                unpriced=counts.unpriced,
            ),
            state=await self.state(job.id),
        )
