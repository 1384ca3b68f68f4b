"""Choosing and changing modes on the OpenAI emulator: hybrid, deadlines, cache, retries, cost."""

from __future__ import annotations

from batchery.events import (
    FallbackStarted,
    ItemRetried,
    ModeChosen,
    OverSla,
    RunEvent,
    RunFinished,
    decode_event,
)
from batchery.model import JobStatus, LlmRequest, Message, Mode
from batchery.service import BatchLlmService

from .conftest import HarnessFactory


def chats(n: int, prefix: str = "q", topic: str | None = None) -> list[LlmRequest]:
    """`n` chat requests; the same `topic` (default: the prefix) gives the same bodies."""
    return [
        LlmRequest(custom_id=f"{prefix}-{i}", messages=(Message("user", f"{topic or prefix} {i}"),))
        for i in range(n)
    ]


async def events_of(service: BatchLlmService, job_id: str) -> list[RunEvent]:
    return [decode_event(body) for _, body in await service.store.events(job_id)]


async def test_hybrid_answers_a_first_slice_in_realtime_and_the_rest_in_batch(
    harness: HarnessFactory,
) -> None:
    async with harness() as h:
        outcome = await h.service.run(chats(60), mode=Mode.HYBRID)
        results = [r async for r in h.service.get_batch_results(outcome.job.id)]

    modes = [r.mode for r in results]
    assert outcome.counts.succeeded == 60
    assert modes.count(Mode.REALTIME) == 20
    assert modes.count(Mode.BATCH) == 40
    assert outcome.batches_submitted == 1


async def test_a_batch_that_would_miss_its_deadline_is_cancelled_and_finished_in_realtime(
    harness: HarnessFactory,
) -> None:
    async with harness(time_scale=5.0) as h:
        outcome = await h.service.run(chats(30), mode=Mode.BATCH, deadline_s=8.0)
        results = [r async for r in h.service.get_batch_results(outcome.job.id)]
        events = await events_of(h.service, outcome.job.id)
        await h.emulator.refresh()
        [batch] = h.emulator.batches()

    assert outcome.counts.succeeded == 30
    assert all(r.mode is Mode.REALTIME for r in results)
    [fallback] = [e for e in events if isinstance(e, FallbackStarted)]
    assert fallback.count == 30
    assert "deadline" in fallback.reason
    assert batch.status in ("cancelling", "cancelled")
    assert outcome.duration_s < 8.0


async def test_auto_uses_observed_turnaround_to_keep_batch_within_a_deadline(
    harness: HarnessFactory,
) -> None:
    async with harness() as h:
        cold = await h.service.plan(chats(30), deadline_s=600.0)
        await h.service.run(chats(30, "warm"), mode=Mode.BATCH)
        warm = await h.service.run(chats(30, "w2"), deadline_s=600.0)

    assert cold.mode is Mode.REALTIME
    assert "misses the 600s deadline" in cold.decision.reason
    assert warm.job.mode is Mode.BATCH
    assert "meets the 600s deadline" in (warm.job.reason or "")


async def test_a_rerun_is_served_from_the_cache_unless_bypassed(harness: HarnessFactory) -> None:
    async with harness() as h:
        first = await h.service.run(chats(25), mode=Mode.BATCH)
        again = await h.service.run(chats(25, "other-ids", topic="q"), mode=Mode.BATCH)
        bypassed = await h.service.run(chats(25), mode=Mode.BATCH, use_cache=False)
        batches = h.emulator.batches()
        events = await events_of(h.service, again.job.id)

    assert (first.counts.cached, again.counts.cached, bypassed.counts.cached) == (0, 25, 0)
    assert again.batches_submitted == 0
    assert len(batches) == 2
    assert again.counts.cost_usd == 0
    assert again.counts.savings_usd == first.counts.realtime_cost_usd
    [chosen] = [e for e in events if isinstance(e, ModeChosen)]
    assert chosen.cached == 25


async def test_retryable_failures_inside_a_batch_are_retried_one_by_one(
    harness: HarnessFactory,
) -> None:
    async with harness(faults="line_error=0.3,http_429=0.3,retry_after=0.01", max_attempts=10) as h:
        outcome = await h.service.run(chats(40), mode=Mode.BATCH)
        results = [r async for r in h.service.get_batch_results(outcome.job.id)]
        events = await events_of(h.service, outcome.job.id)

    redone = [r for r in results if r.mode is Mode.REALTIME]
    assert len(results) == 40
    assert redone
    assert all(r.ok or (r.error is not None and not r.error.retryable) for r in results)
    assert any(isinstance(e, ItemRetried) for e in events)
    assert any(isinstance(e, FallbackStarted) for e in events)


async def test_costs_and_savings_add_up(harness: HarnessFactory) -> None:
    async with harness() as h:
        batch = await h.service.run(chats(25), mode=Mode.BATCH)
        realtime = await h.service.run(chats(5, "rt"), mode=Mode.REALTIME)
        events = await events_of(h.service, batch.job.id)
        results = [r async for r in h.service.get_batch_results(batch.job.id)]

    assert batch.counts.cost_usd > 0
    assert batch.counts.realtime_cost_usd == round(2 * batch.counts.cost_usd, 8)
    assert batch.counts.savings_usd == batch.counts.cost_usd
    assert all(r.cost_usd is not None and r.realtime_cost_usd == 2 * r.cost_usd for r in results)
    assert realtime.counts.savings_usd == 0
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.savings_usd == batch.counts.savings_usd


async def test_a_batch_slower_than_its_history_is_reported_over_sla(
    harness: HarnessFactory,
) -> None:
    async with harness(time_scale=20.0) as h:
        await h.service.store.history.record_turnaround(
            h.service.endpoint("openai"), "gpt-4o-mini", 10, 0.2
        )
        outcome = await h.service.run(chats(20), mode=Mode.BATCH)
        events = await events_of(h.service, outcome.job.id)

    assert outcome.job.status is JobStatus.COMPLETED
    [late] = [e for e in events if isinstance(e, OverSla)]
    assert late.chunk == 0
    assert late.age_s >= 0.4


async def test_a_batch_expected_sooner_than_realtime_is_waited_for_under_a_tight_deadline(
    harness: HarnessFactory,
) -> None:
    async with harness() as h:
        await h.service.store.history.record_turnaround(
            h.service.endpoint("openai"), "gpt-4o-mini", 30, 0.5
        )
        outcome = await h.service.run(chats(30, "tight"), mode=Mode.BATCH, deadline_s=1.0)
        results = [r async for r in h.service.get_batch_results(outcome.job.id)]
        events = await events_of(h.service, outcome.job.id)

    assert all(r.ok and r.mode is Mode.BATCH for r in results)
    assert not any(isinstance(e, FallbackStarted) for e in events)
