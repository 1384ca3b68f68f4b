"""What a job reports while it runs: counts, the slowest chunk's phase, an ETA.

Finished chunks count from the store; live ones from what the provider last said about them,
so progress moves while a batch is still in flight. Nothing is emitted when nothing changed.

One reporter serves the job's batch and realtime paths, so its counters never go backwards:
a batch said to be half done that falls back (and whose answers in flight are lost with it)
keeps showing that half until realtime has done more.
"""

from __future__ import annotations

import time

from batchery.events import Phase, Progress
from batchery.model import BatchState, BatchStatus, ChunkState, Job
from batchery.progress import ProgressBus
from batchery.store import JobStore

__all__ = ["BatchProgress", "over_sla_after"]

_PHASE_ORDER: tuple[Phase, ...] = ("submitting", "validating", "in_progress", "finalizing")


class BatchProgress:
    def __init__(self, store: JobStore, bus: ProgressBus) -> None:
        self._store = store
        self._bus = bus
        self._live: dict[str, BatchState] = {}
        self._last: tuple[int, int, Phase] | None = None
        self._completed = 0

    def saw(self, chunk_id: str, state: BatchState) -> None:
        """Remember what the provider last said about a live chunk."""
        self._live[chunk_id] = state

    def done(self, chunk_id: str) -> None:
        self._live.pop(chunk_id, None)

    async def report(self, job: Job) -> None:
        counts = await self._store.counts(job.id)
        completed, failed = counts.succeeded, counts.failed
        phases: list[Phase] = []
        for chunk in await self._store.chunks(job.id):
            state = self._live.get(chunk.id)
            if chunk.state is ChunkState.SUBMITTED and state is not None:
                completed += state.completed
                failed += state.failed
                phases.append(_phase_of(state.status))
            elif chunk.state in (ChunkState.PLANNED, ChunkState.SUBMITTING):
                phases.append("submitting")
        phase: Phase = min(phases, key=_PHASE_ORDER.index) if phases else "collecting"
        await self.counted(job, completed=completed, failed=failed, total=counts.total, phase=phase)

    async def counted(
        self, job: Job, *, completed: int, failed: int, total: int, phase: Phase
    ) -> None:
        """Report these counts, never fewer completed than already reported.

        `failed` is kept to what the completed leave over, so a failure retried with success
        is no longer counted as one.
        """
        completed = self._completed = max(self._completed, completed)
        failed = min(failed, total - completed)
        if (completed, failed, phase) == self._last:
            return
        self._last = (completed, failed, phase)
        await self._bus.emit(
            job.id,
            Progress,
            completed=completed,
            failed=failed,
            total=total,
            phase=phase,
            eta_s=_eta(job, completed, total),
        )


def over_sla_after(turnaround_s: float, poll_max_interval_s: float) -> float:
    """The age past which a batch expected to take `turnaround_s` is reported as late.

    Twice the expectation, and never less than one slowest poll beyond it: turnarounds are
    only seen at polls, so lateness shorter than a poll gap is measurement noise (a batch
    expected in 2s is not late at 5s when polls are up to a minute apart).
    """
    return max(2 * turnaround_s, turnaround_s + poll_max_interval_s)


def _phase_of(status: BatchStatus) -> Phase:
    if status is BatchStatus.VALIDATING:
        return "validating"
    if status in (BatchStatus.FINALIZING, BatchStatus.CANCELLING) or status.terminal:
        return "finalizing"
    return "in_progress"


def _eta(job: Job, done: int, total: int) -> float | None:
    if done <= 0 or done >= total:
        return None
    elapsed = time.time() - job.created_at
    return elapsed / done * (total - done)
