"""A job's state tells a live driver from a dead one, so no job reads `running` forever."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from batchery.model import Job, JobStatus, Mode
from batchery.service.liveness import INTERRUPTED, job_state


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


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_job_driven_by_a_live_process_on_this_host_reads_its_status() -> None:
    owner = f"here:{os.getpid()}:abcd"

    assert job_state(_job(JobStatus.RUNNING), owner, host="here") == "running"


def test_a_job_whose_driver_process_is_gone_is_interrupted() -> None:
    owner = f"here:{_dead_pid()}:abcd"

    assert job_state(_job(JobStatus.RUNNING), owner, host="here") == INTERRUPTED
    assert job_state(_job(JobStatus.CANCELLING), owner, host="here") == INTERRUPTED


def test_a_job_nobody_claimed_is_interrupted() -> None:
    assert job_state(_job(JobStatus.PENDING), None, host="here") == INTERRUPTED


def test_a_driver_on_another_host_is_taken_at_its_word() -> None:
    owner = f"elsewhere:{_dead_pid()}:abcd"

    assert job_state(_job(JobStatus.RUNNING), owner, host="here") == "running"


def test_a_finished_job_reads_its_status_whoever_claimed_it() -> None:
    assert job_state(_job(JobStatus.COMPLETED), None, host="here") == "completed"
