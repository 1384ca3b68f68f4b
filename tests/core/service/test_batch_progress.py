"""A job's progress counters never go backwards, whichever path reports them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from batchery.events import Progress, decode_event
from batchery.model import Job, JobStatus, Mode
from batchery.progress import ProgressBus
from batchery.service.batch_progress import BatchProgress
from batchery.store import SqliteJobStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    opened = SqliteJobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_fallback_that_loses_the_batch_in_flight_does_not_rewind_completed(
    store: SqliteJobStore,
) -> None:
    now = time.time()
    job = Job(
        id="job-1", provider="openai", model=None, mode=Mode.BATCH,
        status=JobStatus.RUNNING, total=60, created_at=now, updated_at=now,
    )  # fmt: skip
    progress = BatchProgress(store, ProgressBus(store))

    await progress.counted(job, completed=30, failed=0, total=60, phase="in_progress")
    await progress.counted(job, completed=1, failed=0, total=60, phase="realtime")
    await progress.counted(job, completed=45, failed=3, total=60, phase="realtime")
    await progress.counted(job, completed=60, failed=3, total=60, phase="realtime")

    reported = [decode_event(body) for _, body in await store.events("job-1")]
    assert all(isinstance(e, Progress) for e in reported)
    assert [(e.completed, e.failed, e.phase) for e in reported if isinstance(e, Progress)] == [
        (30, 0, "in_progress"),
        (30, 0, "realtime"),
        (45, 3, "realtime"),
        (60, 0, "realtime"),
    ]
