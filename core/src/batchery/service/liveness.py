"""Whether a job still has a driver, so no job reads `running` forever and a crash is not
waited out.

The judgement lives here alone. A driver renews its lease by heartbeat, so an unfinished job
whose lease has lapsed (or that nobody claimed) has no driver, on this host or any other. A
lease also names its owner as `host:pid:token`, the token carrying this machine's boot id: a
holder on this very host and boot whose process is gone (killed with SIGKILL, say) has no
driver either, without waiting for its lease to lapse. A holder on another host is judged by
its lease alone.
"""

from __future__ import annotations

import functools
import os
import socket
import time
import uuid
from pathlib import Path

from batchery.model import Job
from batchery.store import Holder

__all__ = ["INTERRUPTED", "is_gone", "is_live", "job_state", "owner_name", "process_name"]

INTERRUPTED = "interrupted"


@functools.cache
def _boot() -> str:
    """This machine's boot id (Linux), so a host name reused by another machine is not
    mistaken for this one; empty where the system does not tell."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return ""


def process_name() -> str:
    """`host:pid` of this process, as people read it in `Holder.process`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_name() -> str:
    """A fresh lease owner for one service in this process: `host:pid:boot-token`."""
    return f"{process_name()}:{_boot()}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_gone(holder: Holder) -> bool:
    """True when the holder ran on this host and boot and its process no longer exists."""
    host, _, rest = holder.owner.partition(":")
    pid, _, token = rest.partition(":")
    boot = _boot()
    if host != socket.gethostname() or not boot or not token.startswith(boot + "-"):
        return False
    return pid.isdigit() and not _alive(int(pid))


def is_live(holder: Holder | None, *, now: float | None = None) -> bool:
    """True when someone drives the job: its lease has not lapsed and its process exists."""
    if holder is None or holder.expires_at <= (time.time() if now is None else now):
        return False
    return not is_gone(holder)


def job_state(job: Job, holder: Holder | None, *, now: float | None = None) -> str:
    """The job's status, or `interrupted` when it is unfinished and no live driver has it."""
    if job.status.terminal:
        return str(job.status)
    if not is_live(holder, now=now):
        return INTERRUPTED
    return str(job.status)
