"""BatchLlmService end to end on the OpenAI emulator: every request ends exactly once."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from batchery.events import (
    BatchSubmitted,
    FallbackStarted,
    ItemRetried,
    ModeChosen,
    RunEvent,
    RunFinished,
    RunStarted,
    decode_event,
)
from batchery.model import (
    ChunkState,
    JobStatus,
    LlmRequest,
    LlmResult,
    Message,
    Mode,
    RejectedRequest,
    RequestKind,
)
from batchery.service import BatchLlmService, InvalidInputError

from .conftest import HarnessFactory

SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["a", "b"]}},
    "required": ["label"],
}


def chats(n: int, prefix: str = "q") -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix}-{i}",
            messages=(Message("user", f"{prefix} question {i}"),),
            response_schema=SCHEMA,
        )
        for i in range(n)
    ]


async def results_of(service: BatchLlmService, job_id: str) -> list[LlmResult]:
    return [r async for r in service.get_batch_results(job_id)]


async def test_a_batch_run_returns_one_result_per_request_across_chunks(
    harness: HarnessFactory,
) -> None:
    async with harness(max_requests_per_batch=100) as h:
        async with h.service.bus.subscribe() as queue:
            outcome = await h.service.run(chats(250), mode=Mode.BATCH)
            events: list[RunEvent] = []
            while not queue.empty():
                events.append(queue.get_nowait())
        results = await results_of(h.service, outcome.job.id)
        batches = h.emulator.batches()

    assert outcome.job.status is JobStatus.COMPLETED
    assert (outcome.counts.total, outcome.counts.succeeded) == (250, 250)
    assert [r.custom_id for r in results] == [f"q-{i}" for i in range(250)]
    assert all(msgspec.json.decode(r.text or "")["label"] in ("a", "b") for r in results)
    assert len(batches) == outcome.batches_submitted == 3
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert isinstance(events[-1], RunFinished)
    assert sum(isinstance(e, BatchSubmitted) for e in events) == 3


async def test_auto_sends_small_workloads_realtime_and_large_ones_to_batch(
    harness: HarnessFactory,
) -> None:
    async with harness() as h:
        small = await h.service.run(chats(5, "s"))
        large = await h.service.run(chats(25, "l"))
        small_results = await results_of(h.service, small.job.id)

    assert (small.job.mode, small.batches_submitted) == (Mode.REALTIME, 0)
    assert small.job.reason == "5 requests < batch threshold 20"
    assert all(r.ok and r.mode is Mode.REALTIME for r in small_results)
    assert (large.job.mode, large.batches_submitted) == (Mode.BATCH, 1)
    assert large.counts.succeeded == 25


async def test_realtime_retries_rate_limits_and_still_answers_every_request(
    harness: HarnessFactory,
) -> None:
    async with harness(faults="http_429=0.3,retry_after=0.01", max_attempts=8) as h:
        async with h.service.bus.subscribe() as queue:
            outcome = await h.service.run(chats(30), mode=Mode.REALTIME)
            events: list[RunEvent] = []
            while not queue.empty():
                events.append(queue.get_nowait())
        results = await results_of(h.service, outcome.job.id)

    retried = [e for e in events if isinstance(e, ItemRetried)]
    assert retried, "the emulator answered no 429, so nothing was retried"
    assert all("rate" in e.reason for e in retried)
    assert outcome.counts.succeeded == 30
    assert sorted(r.custom_id for r in results) == sorted(f"q-{i}" for i in range(30))


async def test_rejected_items_end_as_explicit_errors_and_the_rest_runs(
    harness: HarnessFactory,
) -> None:
    requests = [
        *chats(3),
        RejectedRequest("bad", "line 9 (custom_id 'bad'): kind 'x' is unknown"),
    ]
    async with harness() as h:
        outcome = await h.service.run(requests, mode=Mode.BATCH)
        results = {r.custom_id: r for r in await results_of(h.service, outcome.job.id)}

    assert (outcome.counts.succeeded, outcome.counts.failed) == (3, 1)
    assert results["bad"].error is not None
    assert results["bad"].error.code == "invalid_request"
    assert results["bad"].error.message.endswith("kind 'x' is unknown")


async def test_a_kind_the_provider_lacks_refuses_the_submission_before_a_job_exists(
    harness: HarnessFactory,
) -> None:
    requests = [
        *chats(3),
        LlmRequest(custom_id="rr", kind=RequestKind.RERANK, query="q", documents=("d",)),
    ]
    async with harness() as h:
        with pytest.raises(InvalidInputError) as refused:
            await h.service.run(requests, mode=Mode.BATCH)
        assert await h.service.store.list_jobs() == []

    assert refused.value.problems == [
        "request 4 (custom_id 'rr'): kind 'rerank' is not supported by openai"
        " (it supports chat, embedding)"
    ]


async def test_duplicate_ids_refuse_the_whole_submission(harness: HarnessFactory) -> None:
    async with harness() as h:
        duplicate = r"request 3 \(custom_id 'q-0'\): custom_id must be unique"
        with pytest.raises(InvalidInputError, match=duplicate):
            await h.service.run([*chats(2), chats(1)[0]], mode=Mode.BATCH)
        assert await h.service.store.list_jobs() == []


async def test_a_lost_create_response_is_reconciled_not_resubmitted(
    harness: HarnessFactory,
) -> None:
    async with harness(faults="create_lost") as h:
        outcome = await h.service.run(chats(30), mode=Mode.BATCH)
        batches = h.emulator.batches()

    assert outcome.counts.succeeded == 30
    assert len(batches) == 1


async def test_an_expired_batch_keeps_its_results_and_finishes_the_rest_in_realtime(
    harness: HarnessFactory,
) -> None:
    async with harness(faults="batch_expire", time_scale=200_000.0) as h:
        outcome = await h.service.run(chats(40), mode=Mode.BATCH)
        results = await results_of(h.service, outcome.job.id)
        events = [decode_event(body) for _, body in await h.service.store.events(outcome.job.id)]

    by_batch = [r for r in results if r.mode is Mode.BATCH]
    by_realtime = [r for r in results if r.mode is Mode.REALTIME]
    assert len(results) == 40
    assert all(r.ok for r in results)
    assert by_batch
    assert by_realtime
    [fallback] = [e for e in events if isinstance(e, FallbackStarted)]
    assert fallback.count == len(by_realtime)
    assert "expired" in fallback.reason


async def test_without_fallback_an_expired_batch_ends_its_rest_as_errors(
    harness: HarnessFactory,
) -> None:
    async with harness(faults="batch_expire", time_scale=200_000.0, fallback=False) as h:
        outcome = await h.service.run(chats(40), mode=Mode.BATCH)
        results = await results_of(h.service, outcome.job.id)

    expired = [r for r in results if not r.ok]
    assert len(results) == 40
    assert expired
    assert all(r.error is not None and r.error.code == "batch_expired" for r in expired)


async def test_unreadable_and_stray_lines_are_quarantined_and_redone(
    harness: HarnessFactory,
) -> None:
    async with harness(faults="malformed=0.1,duplicate=0.1,unknown_id,shuffle") as h:
        outcome = await h.service.run(chats(60), mode=Mode.BATCH)
        results = await results_of(h.service, outcome.job.id)
        quarantined = await h.service.store.quarantined(outcome.job.id)

    assert [r.custom_id for r in results] == [f"q-{i}" for i in range(60)]
    assert all(r.ok for r in results)
    redone = {r.custom_id for r in results if r.mode is Mode.REALTIME}
    unreadable = {
        q.custom_id
        for q in quarantined
        if q.reason != "custom_id not in this batch" and "duplicate" not in q.reason
    }
    assert redone
    assert any(line.reason == "custom_id not in this batch" for line in quarantined)
    assert unreadable - {None} <= redone


async def test_submit_poll_and_collect_step_by_step(harness: HarnessFactory) -> None:
    async with harness() as h:
        job = await h.service.submit_batch(chats(20))
        report = await h.service.get_batch_status(job.id, refresh=False)
        assert [c.state for c in report.chunks] == [ChunkState.SUBMITTED]
        for _ in range(200):
            report = await h.service.get_batch_status(job.id)
            if report.job.status.terminal:
                break
            await asyncio.sleep(0.02)
        results = await results_of(h.service, job.id)

    assert report.job.status is JobStatus.COMPLETED
    assert report.counts.succeeded == 20
    assert len(results) == 20


async def test_cancel_keeps_what_the_batch_finished(harness: HarnessFactory) -> None:
    async with harness(time_scale=50.0) as h:
        job = await h.service.submit_batch(chats(40))
        await asyncio.sleep(0.3)
        cancelled = await h.service.cancel_batch(job.id)
        outcome = await h.service.resume(job.id)
        results = await results_of(h.service, job.id)

    assert cancelled.status is JobStatus.CANCELLING
    assert outcome.job.status is JobStatus.CANCELLED
    assert len(results) == 40
    assert {r.error.code for r in results if r.error is not None} <= {"batch_cancelled"}


async def test_resuming_a_finished_run_submits_nothing(harness: HarnessFactory) -> None:
    async with harness() as h:
        first = await h.service.run(chats(25), fingerprint="same-input")
        again = await h.service.run(chats(25), fingerprint="same-input")
        batches = h.emulator.batches()

    assert again.job.id == first.job.id
    assert again.resumed
    assert len(batches) == 1


async def test_run_events_tell_the_story_in_order(harness: HarnessFactory) -> None:
    async with harness() as h:
        outcome = await h.service.run(chats(22))
        logged = await h.service.store.events(outcome.job.id)

    events = [decode_event(body) for _, body in logged]
    assert [seq for seq, _ in logged] == list(range(1, len(logged) + 1))
    assert isinstance(events[0], ModeChosen)
    assert isinstance(events[1], RunStarted)
    assert isinstance(events[-1], RunFinished)
    assert events[-1].succeeded == 22


async def test_a_cancel_from_the_driving_process_ends_the_run_cancelled(
    harness: HarnessFactory,
) -> None:
    async with harness(time_scale=50.0) as h:
        running = asyncio.create_task(h.service.run(chats(40, "live"), mode=Mode.BATCH))
        for _ in range(200):
            jobs = await h.service.store.list_jobs()
            chunks = await h.service.store.chunks(jobs[0].id) if jobs else []
            if chunks and chunks[0].batch_id:
                break
            await asyncio.sleep(0.02)
        await h.service.cancel_batch(jobs[0].id)
        outcome = await running
        results = await results_of(h.service, outcome.job.id)

    assert outcome.job.status is JobStatus.CANCELLED
    assert len(results) == 40
    assert all(r.ok or (r.error is not None and r.error.code == "batch_cancelled") for r in results)
