"""Queue a workload as one stored run, for `batchery submit` and `POST /api/runs` alike.

The workload is checked by the same rules as `batchery run` before anything is stored; the run
is planned and stored as a job, then queued for a `batchery worker`. An idempotency key names
one run per tenant: submitting again with it returns that run and queues nothing new, and
using it for a different workload is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Annotated

import msgspec

from batchery.model import Job, LlmRequest, Mode
from batchery.service import BatchLlmService, RunPlan
from batchery.service.validation import Finding
from batchery.windows import Hold, Window, hold_for_window
from batchery.work_queue import QueuedRun, WorkQueue

__all__ = ["IdempotencyConflictError", "OpenQueue", "Submission", "Submitted", "submit"]

OpenQueue = Callable[[], AbstractAsyncContextManager[WorkQueue]]
"""Opens the work queue the run goes into (in the job store's own database)."""


class Submission(msgspec.Struct, frozen=True, kw_only=True):
    """How to queue a workload: where it runs, when it may start and how it is named."""

    provider: str
    model: str | None = None
    mode: Mode = Mode.AUTO
    priority: Annotated[int, msgspec.Meta(ge=1, le=10)] = 5
    not_before_s: float | None = None
    """Seconds from now before which no worker takes the run."""
    window: Window | None = None
    deadline_s: float | None = None
    """How long, from now, the caller can wait for the results."""
    idempotency_key: str | None = None
    tenant: str | None = None
    """Whose key it is: one key names one run per tenant."""
    input_name: str | None = None


class Submitted(msgspec.Struct, frozen=True, kw_only=True):
    """The run a submission names, whether this call made it, and when it may start."""

    run_id: str
    created: bool
    queued: bool
    hold: Hold
    warnings: list[Finding] = msgspec.field(default_factory=list)


class IdempotencyConflictError(ValueError):
    """The idempotency key already names a run made from a different workload."""

    def __init__(self, key: str, run_id: str) -> None:
        super().__init__(
            f"the idempotency key {key!r} already names run {run_id},"
            " made from a different workload"
        )
        self.run_id = run_id


def fingerprint_of(key: str, tenant: str | None) -> str:
    """The job fingerprint a key stands for: the store makes one job per fingerprint."""
    scope = "" if tenant is None else f"{len(tenant)}:{tenant}|"
    return hashlib.sha256(f"submit|{scope}{key}".encode()).hexdigest()


async def submit(
    service: BatchLlmService,
    open_queue: OpenQueue,
    items: Sequence[LlmRequest],
    submission: Submission,
    *,
    now: datetime | None = None,
) -> Submitted:
    """Check, store and queue the workload; `InvalidInputError` names every request that
    breaks a rule, and nothing is stored then."""
    now = now or datetime.now(UTC)
    s = submission
    key = s.idempotency_key
    fingerprint = None if key is None else fingerprint_of(key, s.tenant)
    job = None if fingerprint is None else await service.store.find_job(fingerprint)
    plan = await service.plan(
        items, provider=s.provider, model=s.model, mode=s.mode, deadline_s=s.deadline_s
    )
    created = job is None
    if job is None:
        job = await service.create(
            plan, fingerprint=fingerprint, deadline_s=s.deadline_s, input_name=s.input_name
        )
    elif key is not None and not await _same_workload(service, job, plan):
        raise IdempotencyConflictError(key, job.id)
    hold = _hold(s, plan, now)
    queued = False
    if not job.status.terminal:
        async with open_queue() as queue:
            run = QueuedRun(run_id=job.id, provider=job.provider)
            queued = await queue.enqueue(
                run, priority=s.priority, not_before_s=hold.delay_s or None
            )
    return Submitted(
        run_id=job.id, created=created, queued=queued, hold=hold, warnings=plan.warnings
    )


def _hold(s: Submission, plan: RunPlan, now: datetime) -> Hold:
    earliest_s = s.not_before_s or 0.0
    if s.window is None:
        return Hold(earliest_s)
    finishes = [e.finish_s for e in plan.decision.estimates if e.mode == plan.mode.value]
    needed_s = min(finishes) if finishes else 0.0
    return hold_for_window(
        s.window, now=now, earliest_s=earliest_s, deadline_s=s.deadline_s, needed_s=needed_s
    )


async def _same_workload(service: BatchLlmService, job: Job, plan: RunPlan) -> bool:
    """Whether the stored job holds exactly the planned requests, for the same provider and
    model (how a key's first workload is told from another)."""
    if (job.provider, job.model, job.total) != (plan.provider, plan.model, len(plan.requests)):
        return False
    position = 0
    async for stored in service.store.requests(job.id):
        if position >= len(plan.requests) or stored != plan.requests[position]:
            return False
        position += 1
    return position == len(plan.requests)
