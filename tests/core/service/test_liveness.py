"""A job's state tells a live driver from a dead one, so no job reads `running` forever: the
driver's lease, renewed by heartbeat, is the evidence, on this host or any other; on this host
and boot, a driver whose process is gone is no driver, before its lease lapses."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from batchery.model import Job, JobStatus, Mode
from batchery.service.liveness import INTERRUPTED, is_gone, job_state, owner_name
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


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_holder_whose_process_is_gone_from_this_host_is_no_driver() -> None:
    _, _, token = owner_name().split(":")
    gone = Holder(
        owner=f"{socket.gethostname()}:{_dead_pid()}:{token}", since=NOW, expires_at=NOW + 30
    )

    assert is_gone(gone)
    assert job_state(_job(JobStatus.RUNNING), gone, now=NOW) == INTERRUPTED


def test_a_holder_is_judged_by_its_lease_alone_unless_it_ran_on_this_host_and_boot() -> None:
    _, _, token = owner_name().split(":")
    host = socket.gethostname()
    pid = _dead_pid()
    live_here = Holder(owner=owner_name(), since=NOW, expires_at=NOW + 30)
    elsewhere = Holder(owner=f"other-{host}:{pid}:{token}", since=NOW, expires_at=NOW + 30)
    other_boot = Holder(owner=f"{host}:{pid}:00000000-{token[-8:]}", since=NOW, expires_at=NOW + 30)

    assert not any(is_gone(h) for h in (live_here, elsewhere, other_boot))
    assert job_state(_job(JobStatus.RUNNING), elsewhere, now=NOW) == "running"
