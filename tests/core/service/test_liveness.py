"""A job's state tells a live driver from a dead one, so no job reads `running` forever: the
driver's lease, renewed by heartbeat, is the evidence, on this host or any other."""

from __future__ import annotations

import time

from batchery.model import Job, JobStatus, Mode
from batchery.service.liveness import INTERRUPTED, job_state
from batchery.store import Holder

NOW = 1_000_000.0


def _job(status: JobStatus) -> Job:
    now = time.time()
    return Job(
        id="run_1",
        provider="openai",
        model=None,
        mode=Mode.BATCH,
        status=status,
        total=1,
        created_at=now,
        updated_at=now,
    )


def _holder(expires_at: float) -> Holder:
    return Holder(owner="elsewhere:123:abcd", since=NOW - 60, expires_at=expires_at)


def test_a_job_whose_lease_is_renewed_reads_its_status() -> None:
    assert job_state(_job(JobStatus.RUNNING), _holder(NOW + 10), now=NOW) == "running"


def test_a_job_whose_driver_stopped_renewing_is_interrupted() -> None:
    lapsed = _holder(NOW - 1)

    assert job_state(_job(JobStatus.RUNNING), lapsed, now=NOW) == INTERRUPTED
    assert job_state(_job(JobStatus.CANCELLING), lapsed, now=NOW) == INTERRUPTED


def test_a_job_nobody_holds_is_interrupted() -> None:
    assert job_state(_job(JobStatus.PENDING), None, now=NOW) == INTERRUPTED


def test_a_finished_job_reads_its_status_whoever_held_it() -> None:
    assert job_state(_job(JobStatus.COMPLETED), None, now=NOW) == "completed"
    assert job_state(_job(JobStatus.CANCELLED), _holder(NOW - 1), now=NOW) == "cancelled"
