"""Leases on the SQLite store: one job per fingerprint, claims only when free or expired,
renewal by heartbeat, fencing of writes and event appends, cancel requests, a busy store."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from batchery.model import Job, JobStatus, LlmResult, Mode
from batchery.store import (
    JobHeldError,
    LeaseLostError,
    SqliteJobStore,
    StoreBusyError,
)


def _job(job_id: str, fingerprint: str | None = "fp") -> Job:
    now = time.time()
    return Job(
        id=job_id,
        provider="openai",
        model="m",
        mode=Mode.REALTIME,
        status=JobStatus.PENDING,
        total=0,
        created_at=now,
        updated_at=now,
        fingerprint=fingerprint,
    )


def _ok(custom_id: str) -> LlmResult:
    return LlmResult(custom_id=custom_id, ok=True, provider="openai", mode=Mode.REALTIME)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    opened = SqliteJobStore(str(tmp_path / "jobs.db"))
    await opened.open()
    await opened.create_job(_job("run_1"), [], [])
    yield opened
    await opened.close()


async def test_a_second_job_with_the_same_fingerprint_gets_the_first(
    store: SqliteJobStore,
) -> None:
    got = await store.create_job(_job("run_2"), [], [])

    assert got.id == "run_1"
    assert [job.id for job in await store.list_jobs()] == ["run_1"]


async def test_two_processes_creating_the_same_job_at_once_make_one(tmp_path: Path) -> None:
    stores = [SqliteJobStore(str(tmp_path / "shared.db")) for _ in range(2)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        made = await asyncio.gather(
            *(s.create_job(_job(f"run_{i}"), [], []) for i, s in enumerate(stores))
        )
        listed = await stores[0].list_jobs()
    finally:
        await asyncio.gather(*(s.close() for s in stores))

    assert made[0].id == made[1].id
    assert [job.id for job in listed] == [made[0].id]


async def test_a_live_lease_cannot_be_claimed_and_names_its_holder(
    store: SqliteJobStore,
) -> None:
    await store.claim("run_1", "host-a:101:x", lease_s=30)

    with pytest.raises(JobHeldError, match=r"run_1 is being driven by host-a:101 since ") as held:
        await store.claim("run_1", "host-b:202:y", lease_s=30)
    assert held.value.holder.owner == "host-a:101:x"


async def test_a_live_lease_is_taken_over_only_from_the_owner_named_as_gone(
    store: SqliteJobStore,
) -> None:
    dead = await store.claim("run_1", "host-a:101:x", lease_s=30)

    with pytest.raises(JobHeldError):
        await store.claim("run_1", "host-b:202:y", lease_s=30, gone="host-c:303:z")
    taken = await store.claim("run_1", "host-b:202:y", lease_s=30, gone="host-a:101:x")

    assert taken.epoch == dead.epoch + 1
    with pytest.raises(LeaseLostError):
        await store.renew(dead, lease_s=30)


async def test_an_expired_lease_is_claimed_and_the_old_one_is_fenced_out(
    store: SqliteJobStore,
) -> None:
    old = await store.claim("run_1", "a", lease_s=0.05)
    await asyncio.sleep(0.1)
    new = await store.claim("run_1", "b", lease_s=30)

    assert new.epoch == old.epoch + 1
    with pytest.raises(LeaseLostError):
        await store.renew(old, lease_s=30)
    with pytest.raises(LeaseLostError):
        await store.set_job_status(old, JobStatus.RUNNING)
    with pytest.raises(LeaseLostError):
        await store.append_event("run_1", lambda seq: b"{}", lease=old)
    assert await store.events("run_1") == []


async def test_an_expired_lease_writes_nothing_even_before_anyone_claims(
    store: SqliteJobStore,
) -> None:
    lease = await store.claim("run_1", "a", lease_s=0.05)
    await asyncio.sleep(0.1)

    with pytest.raises(LeaseLostError):
        await store.renew(lease, lease_s=30)
    with pytest.raises(LeaseLostError):
        await store.save_results(lease, [_ok("r0")])


async def test_renewal_keeps_a_lease_alive_past_its_first_expiry(store: SqliteJobStore) -> None:
    lease = await store.claim("run_1", "a", lease_s=0.2)
    for _ in range(4):
        await asyncio.sleep(0.1)
        lease = await store.renew(lease, lease_s=0.2)

    with pytest.raises(JobHeldError):
        await store.claim("run_1", "b", lease_s=30)
    assert await store.append_event("run_1", lambda seq: b"{}", lease=lease) == 1


async def test_a_released_lease_can_be_claimed_at_once(store: SqliteJobStore) -> None:
    lease = await store.claim("run_1", "a", lease_s=30)
    await store.release(lease)

    assert await store.holder("run_1") is None
    assert (await store.claim("run_1", "b", lease_s=30)).epoch == lease.epoch + 1


async def test_a_cancel_request_reaches_the_holder_at_its_next_renewal(
    store: SqliteJobStore,
) -> None:
    lease = await store.claim("run_1", "a", lease_s=30)
    assert not lease.cancel_requested

    await store.request_cancel("run_1")

    assert (await store.renew(lease, lease_s=30)).cancel_requested
    await store.release(lease)
    assert (await store.claim("run_1", "b", lease_s=30)).cancel_requested


async def test_a_store_locked_by_another_process_is_reported_busy(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteJobStore(str(path), busy_timeout_s=0.2)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StoreBusyError, match=r"jobs.db stayed busy for 0.2s"):
            await store.create_job(_job("run_1"), [], [])
        assert time.monotonic() - started >= 0.2
        other.execute("ROLLBACK")
        assert (await store.create_job(_job("run_1"), [], [])).id == "run_1"
    finally:
        other.close()
        await store.close()


async def test_an_old_file_with_duplicate_fingerprints_keeps_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SqliteJobStore(str(path))
    await old.open()
    await old.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX jobs_one_per_fingerprint")
        conn.execute("PRAGMA user_version = 1")
        for column in ("lease_since", "lease_expires_at", "cancel_requested_at"):
            conn.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        conn.executescript(
            "ALTER TABLE result_cache DROP COLUMN endpoint;"
            " ALTER TABLE result_cache DROP COLUMN base_url;"
            " ALTER TABLE result_cache DROP COLUMN emulated;"
            " DROP INDEX turnarounds_endpoint; ALTER TABLE turnarounds DROP COLUMN endpoint;"
        )
        for job_id, created in (("older", 1.0), ("newer", 2.0)):
            conn.execute(
                "INSERT INTO jobs (id, fingerprint, status, created_at, body) VALUES (?,?,?,?,?)",
                (job_id, "fp", "completed", created, b"{}"),
            )

    migrated = SqliteJobStore(str(path))
    await migrated.open()
    await migrated.close()
    with sqlite3.connect(path) as conn:
        rows = dict(conn.execute("SELECT id, fingerprint FROM jobs"))

    assert rows == {"older": None, "newer": "fp"}
