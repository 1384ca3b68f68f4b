"""Two services on one job store and one endpoint, as two processes would be: one drives, the
other follows or asks it to stop through the store, and never sends anything itself."""

from __future__ import annotations

import asyncio

import pytest
from batchery.events import RunEvent, RunFinished
from batchery.model import JobStatus, LlmRequest, Message, Mode
from batchery.service import BatchLlmService
from batchery.store import JobHeldError

from .conftest import HarnessFactory

LEASES = {"lease_s": 2.0, "heartbeat_s": 0.2, "max_requests_per_batch": 10}


def _chats(n: int) -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"q-{i}", messages=(Message("user", f"question {i}"),))
        for i in range(n)
    ]


async def _held_job(service: BatchLlmService) -> str:
    """The id of the job `service`'s store holds, once its driver holds the lease."""
    for _ in range(500):
        jobs = await service.store.list_jobs()
        if jobs and await service.store.holder(jobs[0].id) is not None:
            return jobs[0].id
        await asyncio.sleep(0.01)
    raise AssertionError("no job was claimed")


async def test_a_second_service_follows_the_driven_job_to_its_end(
    harness: HarnessFactory,
) -> None:
    async with (
        harness(time_scale=200.0, **LEASES) as a,
        harness(beside=a, **LEASES) as b,
    ):
        driving = asyncio.create_task(a.service.run(_chats(30), mode=Mode.BATCH, fingerprint="fp"))
        job_id = await _held_job(a.service)

        with pytest.raises(JobHeldError, match=f"{job_id} is being driven by ") as held:
            await b.service.run(_chats(30), mode=Mode.BATCH, fingerprint="fp")
        seen: list[RunEvent] = []
        followed = await b.service.attach(held.value.job_id, on_event=seen.append)
        driven = await driving
        jobs = await a.service.store.list_jobs()

    assert followed.job.id == driven.job.id == job_id
    assert followed.job.status is JobStatus.COMPLETED
    assert followed.counts.succeeded == 30
    assert isinstance(seen[-1], RunFinished)
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert len(a.emulator.batches()) == 3
    assert [job.id for job in jobs] == [job_id]


async def test_a_cancel_through_the_store_stops_the_driver(harness: HarnessFactory) -> None:
    async with harness(time_scale=20.0, **LEASES) as a, harness(beside=a, **LEASES) as b:
        driving = asyncio.create_task(a.service.run(_chats(30), mode=Mode.BATCH))
        job_id = await _held_job(a.service)

        asked = await b.service.cancel_batch(job_id)
        outcome = await driving
        results = [r async for r in a.service.get_batch_results(job_id)]

    assert not asked.status.terminal
    assert outcome.job.status is JobStatus.CANCELLED
    assert sorted(r.custom_id for r in results) == sorted(f"q-{i}" for i in range(30))
    codes = {r.error.code for r in results if r.error is not None}
    assert codes
    assert codes <= {"batch_cancelled", "cancelled"}
    assert len(a.emulator.batches()) <= 3
