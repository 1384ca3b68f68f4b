"""A job of several batches: every batch polled and collected at once, each answer cached
under the job's endpoint by the store, and warnings heard before anything is stored."""

from __future__ import annotations

import sqlite3

import pytest
from batchery.model import LlmRequest, Message, Mode
from batchery.service import BatchLlmService, Finding
from batchery.store import SqliteJobStore

from .conftest import ServiceFactory

COUNT = 45


def chats(count: int = COUNT, model: str | None = None) -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"c{i}", model=model, messages=(Message("user", f"say {i}"),))
        for i in range(count)
    ]


async def test_every_batch_of_a_job_is_collected_and_its_answers_serve_the_next_run(
    make_service: ServiceFactory,
) -> None:
    async with make_service(max_requests_per_batch=10) as service:
        first = await service.run(chats(), mode=Mode.BATCH)
        again = await service.run(chats(), mode=Mode.BATCH, fingerprint="again")

        results = [r async for r in service.get_batch_results(first.job.id)]

    assert first.batches_submitted == 5
    assert (first.counts.succeeded, first.counts.cached) == (COUNT, 0)
    assert [r.custom_id for r in results] == [f"c{i}" for i in range(COUNT)]
    assert (again.batches_submitted, again.counts.cached) == (0, COUNT)


@pytest.mark.parametrize("mode", [Mode.BATCH, Mode.REALTIME])
async def test_a_run_without_the_cache_still_teaches_it(
    make_service: ServiceFactory, mode: Mode
) -> None:
    async with make_service() as service:
        await service.run(chats(5), mode=mode, use_cache=False)
        served = await service.run(chats(5), mode=Mode.BATCH, fingerprint="served")

    assert (served.counts.cached, served.batches_submitted) == (5, 0)


async def test_warnings_are_heard_before_the_job_is_stored(service: BatchLlmService) -> None:
    store = service.store
    assert isinstance(store, SqliteJobStore)
    heard: list[list[Finding]] = []
    jobs_when_warned: list[int] = []

    def warn(findings: list[Finding]) -> None:
        heard.append(findings)
        with sqlite3.connect(store.path) as db:
            jobs_when_warned.append(db.execute("SELECT count(*) FROM jobs").fetchone()[0])

    outcome = await service.run(chats(3, model="gpt-9-turbo"), mode=Mode.REALTIME, on_warnings=warn)

    assert outcome.counts.total == 3
    assert jobs_when_warned == [0]
    [findings] = heard
    assert "gpt-9-turbo" in findings[0].rule
    assert [item for finding in findings for item in finding.items] == [
        (1, "c0"),
        (2, "c1"),
        (3, "c2"),
    ]
