"""Leases on either store: a claim only when free, expired, already the owner's or held by an
owner known to be gone; renewal by heartbeat; release; cancel requests; and the fence that
refuses every write and event of a lease that was taken over or has expired."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from batchery.model import ChunkState, Endpoint, JobStatus
from batchery.spi import MalformedLine
from batchery.store import JobHeldError, JobStore, Lease, LeaseLostError, StoreError

from .records import chunk, job, ok, planned

SHORT_S = 0.3
"""A lease short enough to outwait in a test."""


@pytest.fixture
async def stored(store: JobStore) -> JobStore:
    await store.create_job(job(), planned(), [chunk()])
    return store


async def test_a_free_job_is_claimed_and_its_holder_shown(stored: JobStore) -> None:
    assert await stored.holder("run_1") is None

    lease = await stored.claim("run_1", "host:1:a", lease_s=30)

    holder = await stored.holder("run_1")
    assert holder is not None
    assert (holder.owner, holder.process) == ("host:1:a", "host:1")
    assert holder.since <= holder.expires_at
    assert (lease.job_id, lease.owner, lease.cancel_requested) == ("run_1", "host:1:a", False)


async def test_a_held_job_cannot_be_claimed_by_another_owner(
    stored: JobStore, second: JobStore
) -> None:
    await stored.claim("run_1", "host:1:a", lease_s=30)

    with pytest.raises(JobHeldError) as held:
        await second.claim("run_1", "host:2:b", lease_s=30)

    assert held.value.holder.owner == "host:1:a"
    assert "host:1" in str(held.value)


async def test_of_many_claims_at_once_exactly_one_wins(stored: JobStore, second: JobStore) -> None:
    claims = [
        s.claim("run_1", f"owner-{i}", lease_s=30) for i, s in enumerate([stored, second] * 4)
    ]

    outcomes = await asyncio.gather(*claims, return_exceptions=True)

    won = [o for o in outcomes if isinstance(o, Lease)]
    assert len(won) == 1
    assert all(isinstance(o, JobHeldError) for o in outcomes if o not in won)
    holder = await second.holder("run_1")
    assert holder is not None
    assert holder.owner == won[0].owner


async def test_claiming_a_missing_job_says_so(stored: JobStore) -> None:
    with pytest.raises(StoreError, match="no job 'run_9'"):
        await stored.claim("run_9", "me", lease_s=30)


async def test_the_same_owner_claims_again_with_a_new_epoch(stored: JobStore) -> None:
    first = await stored.claim("run_1", "me", lease_s=30)

    again = await stored.claim("run_1", "me", lease_s=30)

    assert again.epoch == first.epoch + 1
    with pytest.raises(LeaseLostError):
        await stored.save_results(first, [ok("r0")])


async def test_an_owner_known_to_be_gone_is_taken_over(stored: JobStore, second: JobStore) -> None:
    await stored.claim("run_1", "host:1:dead", lease_s=30)

    taken = await second.claim("run_1", "host:1:new", lease_s=30, gone="host:1:dead")

    holder = await second.holder("run_1")
    assert holder is not None
    assert holder.owner == "host:1:new"
    assert taken.owner == "host:1:new"
    with pytest.raises(JobHeldError):
        await stored.claim("run_1", "host:1:third", lease_s=30, gone="host:1:dead")


async def test_an_expired_lease_is_claimed_by_another(stored: JobStore, second: JobStore) -> None:
    first = await stored.claim("run_1", "a", lease_s=SHORT_S)
    await asyncio.sleep(SHORT_S + 0.1)

    taken = await second.claim("run_1", "b", lease_s=30)

    assert taken.epoch == first.epoch + 1
    with pytest.raises(LeaseLostError):
        await stored.renew(first, lease_s=30)


async def test_renewal_keeps_a_lease_past_its_first_expiry(
    stored: JobStore, second: JobStore
) -> None:
    lease = await stored.claim("run_1", "a", lease_s=SHORT_S)
    for _ in range(3):
        await asyncio.sleep(SHORT_S / 3)
        lease = await stored.renew(lease, lease_s=SHORT_S)

    with pytest.raises(JobHeldError):
        await second.claim("run_1", "b", lease_s=30)
    await stored.save_results(lease, [ok("r0")])


async def test_a_lease_that_expired_refuses_writes_even_unclaimed(stored: JobStore) -> None:
    lease = await stored.claim("run_1", "a", lease_s=SHORT_S)
    await asyncio.sleep(SHORT_S + 0.1)

    with pytest.raises(LeaseLostError):
        await stored.save_results(lease, [ok("r0")])
    with pytest.raises(LeaseLostError):
        await stored.renew(lease, lease_s=30)
    assert (await stored.counts("run_1")).finished == 0


async def test_a_released_job_is_claimed_at_once(stored: JobStore, second: JobStore) -> None:
    lease = await stored.claim("run_1", "a", lease_s=30)

    await stored.release(lease)

    assert await stored.holder("run_1") is None
    assert (await second.claim("run_1", "b", lease_s=30)).owner == "b"


async def test_releasing_a_lease_taken_over_leaves_the_new_holder(
    stored: JobStore, second: JobStore
) -> None:
    old = await stored.claim("run_1", "a", lease_s=30)
    await second.claim("run_1", "b", lease_s=30, gone="a")

    await stored.release(old)

    holder = await stored.holder("run_1")
    assert holder is not None
    assert holder.owner == "b"


async def test_a_cancel_request_reaches_the_holder_at_its_next_heartbeat(
    stored: JobStore, second: JobStore
) -> None:
    lease = await stored.claim("run_1", "a", lease_s=30)

    await second.request_cancel("run_1")

    renewed = await stored.renew(lease, lease_s=30)
    assert renewed.cancel_requested
    assert (await stored.claim("run_1", "a", lease_s=30)).cancel_requested


Write = Callable[[JobStore, Lease], Awaitable[object]]

WRITES: dict[str, Write] = {
    "save_results": lambda s, lease: s.save_results(lease, [ok("r0")]),
    "update_chunk": lambda s, lease: s.update_chunk(lease, "run_1-0", state=ChunkState.SUBMITTED),
    "set_job_status": lambda s, lease: s.set_job_status(lease, JobStatus.RUNNING),
    "set_endpoint": lambda s, lease: s.set_endpoint(lease, Endpoint(provider="openai")),
    "reopen": lambda s, lease: s.reopen(lease, permanent=True),
    "quarantine": lambda s, lease: s.quarantine(
        lease, "run_1-0", [MalformedLine(line=1, reason="bad")]
    ),
    "append_event": lambda s, lease: s.append_event("run_1", lambda n: b"{}", lease=lease),
}


@pytest.mark.parametrize("write", WRITES)
async def test_a_lease_taken_over_writes_nothing(
    stored: JobStore, second: JobStore, write: str
) -> None:
    stale = await stored.claim("run_1", "a", lease_s=30)
    await second.claim("run_1", "b", lease_s=30, gone="a")

    with pytest.raises(LeaseLostError):
        await WRITES[write](stored, stale)

    assert (await stored.counts("run_1")).finished == 0
    assert await stored.events("run_1") == []
    assert await stored.quarantined("run_1") == []
    assert (await stored.chunks("run_1"))[0].state == ChunkState.PLANNED
    after = await stored.get_job("run_1")
    assert after is not None
    assert (after.status, after.endpoint) == (JobStatus.PENDING, None)
