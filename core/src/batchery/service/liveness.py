"""Whether an unfinished job still has a driver, so no job reads `running` forever.

The judgement lives here alone. Today it reads the lease owner (`host:pid:nonce`, set by the
last claim): on this host a driver is alive when its process is; a job nobody claimed, or
whose driver's process is gone, is `interrupted`. A driver on another host cannot be checked
from here and is taken at its word.
"""

from __future__ import annotations

import os
import socket

from batchery.model import Job

__all__ = ["INTERRUPTED", "job_state"]

INTERRUPTED = "interrupted"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_state(job: Job, owner: str | None, *, host: str | None = None) -> str:
    """The job's status, or `interrupted` when it is unfinished and its driver is gone."""
    if job.status.terminal:
        return str(job.status)
    if owner is None:
        return INTERRUPTED
    owner_host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if owner_host != (host or socket.gethostname()) or not pid.isdigit():
        return str(job.status)
    return str(job.status) if _alive(int(pid)) else INTERRUPTED
