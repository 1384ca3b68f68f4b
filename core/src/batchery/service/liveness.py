"""Whether an unfinished job still has a driver, so no job reads `running` forever.

The judgement lives here alone and reads the job's lease: a driver renews it by heartbeat,
so an unfinished job whose lease has lapsed (or that nobody claimed) has no driver, on this
host or any other, and is `interrupted`.
"""

from __future__ import annotations

import time

from batchery.model import Job
from batchery.store import Holder

__all__ = ["INTERRUPTED", "job_state"]

INTERRUPTED = "interrupted"


def job_state(job: Job, holder: Holder | None, *, now: float | None = None) -> str:
    """The job's status, or `interrupted` when it is unfinished and no live lease drives it."""
    if job.status.terminal:
        return str(job.status)
    if holder is None or holder.expires_at <= (time.time() if now is None else now):
        return INTERRUPTED
    return str(job.status)
