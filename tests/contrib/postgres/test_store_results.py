"""Outcomes on either store: each result stored exactly once, unknown ids refused, results and
counts in input order, quarantined lines, and the event log numbered in order across
processes."""

from __future__ import annotations

import asyncio

import pytest
from batchery.spi import MalformedLine
from batchery.store import JobCounts, JobStore, Lease

from .records import chunk, failed, job, ok, planned


@pytest.fixture
async def lease(store: JobStore) -> Lease:
    await store.create_job(job(total=4), planned(3) + planned(4, chunk=None)[3:], [chunk()])
    return await store.claim("run_1", "me", lease_s=30)


async def test_a_result_is_stored_once_however_often_it_is_saved(
    store: JobStore, lease: Lease
) -> None:
    first = await store.save_results(lease, [ok("r0", "first"), ok("r1")])
    again = await store.save_results(lease, [ok("r0", "second"), ok("r0", "third")])

    assert first == (2, [])
    assert again == (0, [])
    assert [(r.custom_id, r.text) async for r in store.results("run_1")] == [
        ("r0", "first"),
        ("r1", "answer"),
    ]


async def test_a_result_the_job_does_not_hold_is_not_stored(store: JobStore, lease: Lease) -> None:
    stored = await store.save_results(lease, [ok("nope"), ok("r2"), ok("also-nope")])

    assert stored == (1, ["nope", "also-nope"])


async def test_a_result_outside_the_given_chunk_is_unknown_to_it(
    store: JobStore, lease: Lease
) -> None:
    stored = await store.save_results(lease, [ok("r0"), ok("r3")], chunk_id="run_1-0")

    assert stored == (1, ["r3"])
    assert [r.custom_id async for r in store.pending_requests("run_1")] == ["r1", "r2", "r3"]


async def test_two_drivers_saving_the_same_results_at_once_store_each_once(
    store: JobStore, second: JobStore, lease: Lease
) -> None:
    results = [ok(f"r{i}") for i in range(4)]

    saved = await asyncio.gather(
        store.save_results(lease, results), second.save_results(lease, results[::-1])
    )

    assert sum(n for n, _ in saved) == 4
    assert [r.custom_id async for r in store.results("run_1")] == ["r0", "r1", "r2", "r3"]


async def test_results_come_back_in_input_order(store: JobStore, lease: Lease) -> None:
    await store.save_results(lease, [ok("r3"), ok("r1")])
    await store.save_results(lease, [ok("r2"), ok("r0")])

    assert [r.custom_id async for r in store.results("run_1")] == ["r0", "r1", "r2", "r3"]


async def test_counts_add_up_outcomes_costs_cached_and_unpriced(
    store: JobStore, lease: Lease
) -> None:
    await store.save_results(
        lease,
        [
            ok("r0", cost_usd=0.5, realtime_cost_usd=1.0),
            ok("r1", cost_usd=0.0, realtime_cost_usd=0.25, cached=True),
            ok("r2"),
            failed("r3", retryable=True),
        ],
    )

    counts = await store.counts("run_1")

    assert counts == JobCounts(4, 3, 1, cost_usd=0.5, realtime_cost_usd=1.25, cached=1, unpriced=1)
    assert (counts.finished, counts.savings_usd) == (4, 0.75)
    assert await store.counts("run_9") == JobCounts(0, 0, 0)


async def test_quarantined_lines_are_kept_in_order(store: JobStore, lease: Lease) -> None:
    lines = [MalformedLine(line=n, reason=f"bad {n}", custom_id=None) for n in (7, 3, 5)]

    await store.quarantine(lease, "run_1-0", lines)

    assert await store.quarantined("run_1") == lines


def _event(seq: int) -> bytes:
    return b'{"seq":%d}' % seq


async def test_events_are_numbered_in_order_and_paged(store: JobStore, lease: Lease) -> None:
    seqs = [await store.append_event("run_1", _event, lease=lease) for _ in range(5)]

    assert seqs == [1, 2, 3, 4, 5]
    assert await store.events("run_1", after_seq=3) == [(4, _event(4)), (5, _event(5))]
    assert [seq for seq, _ in await store.events("run_1", after_seq=1, limit=2)] == [2, 3]
    assert await store.events("run_2") == []


async def test_appenders_in_two_processes_get_one_number_each(
    store: JobStore, second: JobStore, lease: Lease
) -> None:
    appends = [s.append_event("run_1", _event) for s in [store, second] * 10]

    seqs = await asyncio.gather(*appends)

    assert sorted(seqs) == list(range(1, 21))
    logged = await store.events("run_1")
    assert logged == [(n, _event(n)) for n in range(1, 21)]


async def test_an_event_without_a_lease_needs_none(store: JobStore, lease: Lease) -> None:
    await store.release(lease)

    assert await store.append_event("run_1", _event) == 1


async def test_events_logged_before_their_job_exists_are_continued(store: JobStore) -> None:
    early = [await store.append_event("run_7", _event) for _ in range(2)]
    await store.create_job(job("run_7"), planned(), [chunk("run_7")])
    lease = await store.claim("run_7", "me", lease_s=30)

    later = await store.append_event("run_7", _event, lease=lease)

    assert (early, later) == ([1, 2], 3)
    assert [seq for seq, _ in await store.events("run_7")] == [1, 2, 3]
