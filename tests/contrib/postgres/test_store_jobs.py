"""Jobs on either store: one per fingerprint (also when two processes race), listing newest
first, the chunk plan and its updates, the request ledger, status moves and reopening."""

from __future__ import annotations

import asyncio

import pytest
from batchery.model import BatchState, BatchStatus, ChunkState, Endpoint, JobStatus
from batchery.store import JobStore, StoreError

from .records import chunk, failed, job, ok, planned


async def test_a_job_is_stored_with_its_requests_and_chunks(store: JobStore) -> None:
    created = await store.create_job(job(fingerprint="fp"), planned(), [chunk()])

    assert await store.get_job("run_1") == created
    assert await store.find_job("fp") == created
    assert await store.get_job("run_9") is None
    assert await store.find_job("other") is None
    assert [c.id for c in await store.chunks("run_1")] == ["run_1-0"]
    assert [r.custom_id async for r in store.requests("run_1")] == ["r0", "r1", "r2"]
    assert [r.custom_id for r in await store.chunk_requests("run_1-0")] == ["r0", "r1", "r2"]


async def test_the_same_fingerprint_gets_the_first_job(store: JobStore) -> None:
    await store.create_job(job("run_1", fingerprint="fp"), planned(), [chunk("run_1")])

    got = await store.create_job(job("run_2", fingerprint="fp"), planned(), [chunk("run_2")])

    assert got.id == "run_1"
    assert [j.id for j in await store.list_jobs()] == ["run_1"]
    assert await store.chunks("run_2") == []


async def test_two_processes_creating_the_same_job_at_once_make_one(
    store: JobStore, second: JobStore
) -> None:
    made = await asyncio.gather(
        *(
            s.create_job(job(f"run_{i}", fingerprint="fp"), planned(200), [chunk(f"run_{i}")])
            for i, s in enumerate([store, second] * 3)
        )
    )

    assert len({m.id for m in made}) == 1
    assert [j.id for j in await store.list_jobs()] == [made[0].id]
    assert len([r async for r in second.requests(made[0].id)]) == 200


async def test_replace_moves_the_fingerprint_to_the_new_job(store: JobStore) -> None:
    await store.create_job(job("run_1", fingerprint="fp"), planned(), [chunk("run_1")])

    fresh = await store.create_job(
        job("run_2", fingerprint="fp"), planned(), [chunk("run_2")], replace=True
    )

    assert fresh.id == "run_2"
    found = await store.find_job("fp")
    assert found is not None
    assert found.id == "run_2"
    earlier = await store.get_job("run_1")
    assert earlier is not None
    assert earlier.fingerprint == "fp"
    assert len([r async for r in store.requests("run_1")]) == 3


async def test_jobs_are_listed_newest_first_up_to_the_limit(store: JobStore) -> None:
    for i in range(5):
        made = job(f"run_{i}")
        made.created_at += i
        await store.create_job(made, [], [])

    assert [j.id for j in await store.list_jobs(limit=3)] == ["run_4", "run_3", "run_2"]
    assert len(await store.list_jobs()) == 5


async def test_pending_requests_are_those_without_a_result_in_input_order(
    store: JobStore,
) -> None:
    requests = planned(4)[:2] + planned(4, chunk=None)[2:]
    await store.create_job(job(total=4), requests, [chunk(count=2)])
    lease = await store.claim("run_1", "me", lease_s=30)

    await store.save_results(lease, [ok("r1"), ok("r3")])

    assert [r.custom_id async for r in store.pending_requests("run_1")] == ["r0", "r2"]
    assert [r.custom_id async for r in store.pending_requests("run_1", chunked=True)] == ["r0"]
    assert [r.custom_id async for r in store.pending_requests("run_1", chunked=False)] == ["r2"]
    assert await store.missing_in_chunk("run_1-0") == ["r0"]


async def test_a_long_ledger_streams_past_one_page(store: JobStore) -> None:
    await store.create_job(job(total=2500), planned(2500, chunk=None), [])

    ids = [r.custom_id async for r in store.requests("run_1")]

    assert ids == [f"r{i}" for i in range(2500)]


async def test_chunk_updates_keep_what_they_do_not_change(store: JobStore) -> None:
    await store.create_job(job(), planned(), [chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)

    await store.update_chunk(lease, "run_1-0", state=ChunkState.SUBMITTING, submit_key="k1")
    updated = await store.update_chunk(
        lease,
        "run_1-0",
        batch=BatchState(batch_id="b1", status=BatchStatus.IN_PROGRESS, created_at=1.0),
    )

    assert (updated.state, updated.submit_key, updated.batch_id) == (
        ChunkState.SUBMITTING,
        "k1",
        "b1",
    )
    assert (await store.chunks("run_1"))[0] == updated
    with pytest.raises(StoreError, match="no chunk"):
        await store.update_chunk(lease, "run_1-9", attempts=1)


async def test_status_moves_only_where_a_job_may_go(store: JobStore) -> None:
    await store.create_job(job(), planned(), [chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)

    running = await store.set_job_status(lease, JobStatus.RUNNING)
    done = await store.set_job_status(lease, JobStatus.COMPLETED, reason="all answered")

    assert running.status == JobStatus.RUNNING
    assert (done.status, done.reason) == (JobStatus.COMPLETED, "all answered")
    stored = await store.get_job("run_1")
    assert stored is not None
    assert stored.status == JobStatus.COMPLETED
    with pytest.raises(StoreError, match="cannot go from completed to running"):
        await store.set_job_status(lease, JobStatus.RUNNING)


async def test_the_endpoint_is_recorded_on_the_job(store: JobStore) -> None:
    await store.create_job(job(), planned(), [chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)
    endpoint = Endpoint(provider="openai", base_url="http://127.0.0.1:1/v1", emulated=True)

    await store.set_endpoint(lease, endpoint)

    stored = await store.get_job("run_1")
    assert stored is not None
    assert stored.endpoint == endpoint


@pytest.mark.parametrize(("permanent", "pending"), [(False, ["r1"]), (True, ["r1", "r2"])])
async def test_reopen_drops_the_errors_to_retry_and_keeps_answers(
    store: JobStore, permanent: bool, pending: list[str]
) -> None:
    await store.create_job(job(), planned(), [chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)
    await store.save_results(
        lease, [ok("r0"), failed("r1", retryable=True), failed("r2", retryable=False)]
    )
    await store.set_job_status(lease, JobStatus.RUNNING)
    await store.set_job_status(lease, JobStatus.COMPLETED)

    assert await store.reopen(lease, permanent=permanent) == len(pending)

    assert [r.custom_id async for r in store.pending_requests("run_1")] == pending
    assert [r.custom_id async for r in store.results("run_1")] == [
        c for c in ("r0", "r1", "r2") if c not in pending
    ]
    reopened = await store.get_job("run_1")
    assert reopened is not None
    assert reopened.status == JobStatus.RUNNING


async def test_reopen_leaves_a_job_with_nothing_to_send_as_it_was(store: JobStore) -> None:
    await store.create_job(job(), planned(), [chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)
    await store.save_results(lease, [ok("r0"), ok("r1"), ok("r2")])
    await store.set_job_status(lease, JobStatus.RUNNING)
    await store.set_job_status(lease, JobStatus.COMPLETED)

    assert await store.reopen(lease, permanent=True) == 0

    kept = await store.get_job("run_1")
    assert kept is not None
    assert kept.status == JobStatus.COMPLETED


async def test_reopen_ignores_a_job_still_running(store: JobStore) -> None:
    await store.create_job(job(), planned(), [chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)
    await store.set_job_status(lease, JobStatus.RUNNING)

    assert await store.reopen(lease, permanent=True) == 0
