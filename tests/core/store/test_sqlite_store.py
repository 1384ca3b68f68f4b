"""The SQLite job store: one result per (job, custom_id), fencing, ordering, durability."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from batchery.model import (
    BatchState,
    BatchStatus,
    ChunkState,
    ErrorInfo,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Message,
    Mode,
    RequestKind,
)
from batchery.spi import MalformedLine
from batchery.store import (
    ChunkRecord,
    LeaseLostError,
    PlannedRequest,
    SqliteJobStore,
    StoreError,
)


def _job(job_id: str = "run_1", *, fingerprint: str | None = None) -> Job:
    now = time.time()
    return Job(
        id=job_id,
        provider="openai",
        model="m",
        mode=Mode.BATCH,
        status=JobStatus.PENDING,
        total=3,
        created_at=now,
        updated_at=now,
        fingerprint=fingerprint,
    )


def _requests(n: int = 3) -> list[PlannedRequest]:
    return [
        PlannedRequest(LlmRequest(custom_id=f"r{i}", messages=(Message("user", f"q{i}"),)), 0)
        for i in range(n)
    ]


def _chunk(job_id: str = "run_1") -> ChunkRecord:
    return ChunkRecord(
        id=f"{job_id}-0",
        job_id=job_id,
        index=0,
        kind=RequestKind.CHAT,
        model="m",
        state=ChunkState.PLANNED,
        request_count=3,
        byte_size=300,
    )


def _ok(custom_id: str, text: str = "answer") -> LlmResult:
    return LlmResult(custom_id=custom_id, ok=True, provider="openai", mode=Mode.BATCH, text=text)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    opened = SqliteJobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    await opened.open()
    yield opened
    await opened.close()


async def test_a_result_is_stored_once_per_custom_id(store: SqliteJobStore) -> None:
    await store.create_job(_job(), _requests(), [_chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)

    stored, unknown = await store.save_results(lease, [_ok("r0"), _ok("r0", "again"), _ok("x")])

    assert (stored, unknown) == (1, ["x"])
    results = [r async for r in store.results("run_1")]
    assert [(r.custom_id, r.text) for r in results] == [("r0", "answer")]
    assert (await store.counts("run_1")).finished == 1


async def test_results_and_pending_requests_come_in_input_order(store: SqliteJobStore) -> None:
    await store.create_job(_job(), _requests(), [_chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)
    await store.save_results(lease, [_ok("r2"), _ok("r0")])

    assert [r.custom_id async for r in store.results("run_1")] == ["r0", "r2"]
    assert [r.custom_id async for r in store.pending_requests("run_1")] == ["r1"]
    assert await store.missing_in_chunk("run_1-0") == ["r1"]


async def test_a_stale_lease_cannot_write(store: SqliteJobStore) -> None:
    await store.create_job(_job(), _requests(), [_chunk()])
    old = await store.claim("run_1", "first", lease_s=0.05)
    await asyncio.sleep(0.1)
    await store.claim("run_1", "second", lease_s=30)

    with pytest.raises(LeaseLostError):
        await store.save_results(old, [_ok("r0")])
    with pytest.raises(LeaseLostError):
        await store.update_chunk(old, "run_1-0", state=ChunkState.SUBMITTING)
    assert (await store.counts("run_1")).finished == 0


async def test_job_status_follows_its_state_machine(store: SqliteJobStore) -> None:
    await store.create_job(_job(), _requests(), [_chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)

    await store.set_job_status(lease, JobStatus.RUNNING)
    done = await store.set_job_status(lease, JobStatus.COMPLETED)

    assert done.status is JobStatus.COMPLETED
    with pytest.raises(StoreError, match="cannot go from completed to running"):
        await store.set_job_status(lease, JobStatus.RUNNING)


async def test_chunk_updates_keep_earlier_fields(store: SqliteJobStore) -> None:
    await store.create_job(_job(), _requests(), [_chunk()])
    lease = await store.claim("run_1", "me", lease_s=30)
    await store.update_chunk(
        lease, "run_1-0", state=ChunkState.SUBMITTING, submit_key="k", intent_at=1.0, attempts=1
    )

    batch = BatchState(batch_id="batch_1", status=BatchStatus.VALIDATING, created_at=2.0)
    chunk = await store.update_chunk(lease, "run_1-0", state=ChunkState.SUBMITTED, batch=batch)

    assert (chunk.state, chunk.submit_key, chunk.batch_id, chunk.batch_status) == (
        ChunkState.SUBMITTED,
        "k",
        "batch_1",
        BatchStatus.VALIDATING,
    )


async def test_state_survives_reopening(tmp_path: Path) -> None:
    url = str(tmp_path / "jobs.db")
    first = SqliteJobStore(url)
    await first.open()
    await first.create_job(_job(fingerprint="fp"), _requests(), [_chunk()])
    lease = await first.claim("run_1", "me", lease_s=30)
    failure = ErrorInfo(code="invalid_request", message="bad")
    await first.save_results(
        lease, [LlmResult.failure("r1", failure, provider="openai", mode=Mode.BATCH)]
    )
    await first.quarantine(lease, "run_1-0", [MalformedLine(line=3, reason="not JSON")])
    await first.close()

    second = SqliteJobStore(url)
    await second.open()
    try:
        assert (await second.find_job("fp")) is not None
        counts = await second.counts("run_1")
        assert (counts.total, counts.succeeded, counts.failed) == (3, 0, 1)
        assert await second.quarantined("run_1") == [MalformedLine(line=3, reason="not JSON")]
        assert (await second.claim("run_1", "me", lease_s=30)).epoch == lease.epoch + 1
    finally:
        await second.close()


async def test_event_log_numbers_events_per_job(store: SqliteJobStore) -> None:
    await store.create_job(_job("a"), [], [])
    await store.create_job(_job("b"), [], [])

    seqs = [await store.append_event(job, lambda seq: str(seq).encode()) for job in "aab"]

    assert seqs == [1, 2, 1]
    assert await store.events("a", after_seq=1) == [(2, b"2")]


async def test_event_log_reads_a_page_at_a_time(store: SqliteJobStore) -> None:
    await store.create_job(_job("a"), [], [])
    for _ in range(5):
        await store.append_event("a", lambda seq: str(seq).encode())

    assert await store.events("a", after_seq=1, limit=2) == [(2, b"2"), (3, b"3")]
    assert await store.events("a", after_seq=4, limit=2) == [(5, b"5")]
    assert [seq for seq, _ in await store.events("a", limit=None)] == [1, 2, 3, 4, 5]


async def test_an_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(StoreError, match="not a SQLite store URL"):
        SqliteJobStore("redis://localhost")
