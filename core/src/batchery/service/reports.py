"""What the service hands back about a job: its report, its outcome, an unknown provider, a job
held at another endpoint."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from batchery.model import Job
from batchery.store import ChunkRecord, JobCounts

__all__ = ["EndpointMismatchError", "JobReport", "RunOutcome", "UnknownProviderError"]


class UnknownProviderError(LookupError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no provider named {name!r} is installed (installed: {names})")


class EndpointMismatchError(LookupError):
    """A job would be driven at another endpoint than the one it was created for."""

    def __init__(self, job: Job, here: str) -> None:
        there = job.endpoint.shown if job.endpoint is not None else job.provider
        super().__init__(
            f"job {job.id} runs at {there}, but this service reaches {job.provider} at {here}"
        )


class JobReport(msgspec.Struct, frozen=True):
    job: Job
    counts: JobCounts
    chunks: list[ChunkRecord]


class RunOutcome(msgspec.Struct, frozen=True, kw_only=True):
    job: Job
    counts: JobCounts
    batches_submitted: int
    duration_s: float
    resumed: bool = False
