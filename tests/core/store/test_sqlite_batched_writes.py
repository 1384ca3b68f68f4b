"""The store's batched writes: results by the page, answers cached inside the store, a chunk's
requests decoded as they are read, and the ledger column that carries each cache key."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from batchery.model import (
    ChunkState,
    Endpoint,
    ErrorInfo,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Message,
    Mode,
    RequestKind,
)
from batchery.store import ChunkRecord, PlannedRequest, SqliteJobStore

ENDPOINT = Endpoint(provider="openai", base_url="http://127.0.0.1:4010/v1", emulated=True)
COUNT = 2_500


def _job(job_id: str = "run_1") -> Job:
    now = time.time()
    return Job(
        id=job_id,
        provider="openai",
        model="m",
        mode=Mode.BATCH,
        status=JobStatus.PENDING,
        total=COUNT,
        created_at=now,
        updated_at=now,
        endpoint=ENDPOINT,
    )


def _chunk(index: int, count: int) -> ChunkRecord:
    return ChunkRecord(
        id=f"run_1-{index}",
        job_id="run_1",
        index=index,
        kind=RequestKind.CHAT,
        model="m",
        state=ChunkState.PLANNED,
        request_count=count,
        byte_size=100 * count,
    )


def _planned(count: int = COUNT) -> list[PlannedRequest]:
    """Requests split over two chunks, each with a cache key except every tenth one."""
    return [
        PlannedRequest(
            LlmRequest(custom_id=f"r{i}", messages=(Message("user", f"q{i}"),)),
            0 if i < count // 2 else 1,
            cache_key=None if i % 10 == 0 else f"key-{i}",
        )
        for i in range(count)
    ]


def _ok(custom_id: str, *, cached: bool = False) -> LlmResult:
    return LlmResult(
        custom_id=custom_id, ok=True, provider="openai", mode=Mode.BATCH, text="a", cached=cached
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    opened = SqliteJobStore(str(tmp_path / "jobs.db"))
    await opened.open()
    await opened.create_job(
        _job(), _planned(), [_chunk(0, COUNT // 2), _chunk(1, COUNT - COUNT // 2)]
    )
    yield opened
    await opened.close()


async def test_results_are_stored_page_by_page_and_strangers_named_in_order(
    store: SqliteJobStore,
) -> None:
    lease = await store.claim("run_1", "me", lease_s=30)
    results = [_ok(f"r{i}") for i in range(COUNT)]
    results.insert(1_500, _ok("stranger-1"))
    results.append(_ok("stranger-2"))

    assert await store.save_results(lease, results) == (COUNT, ["stranger-1", "stranger-2"])
    assert await store.save_results(lease, results[:1_200]) == (0, [])
    assert (await store.counts("run_1")).succeeded == COUNT


async def test_a_chunk_scoped_save_refuses_the_other_chunks_ids(store: SqliteJobStore) -> None:
    lease = await store.claim("run_1", "me", lease_s=30)
    page = [_ok(f"r{i}") for i in range(COUNT // 2 - 5, COUNT // 2 + 5)]

    stored, unknown = await store.save_results(lease, page, chunk_id="run_1-0")

    assert stored == 5
    assert unknown == [f"r{i}" for i in range(COUNT // 2, COUNT // 2 + 5)]


async def test_a_finished_jobs_answers_are_cached_under_their_ledger_keys(
    store: SqliteJobStore,
) -> None:
    lease = await store.claim("run_1", "me", lease_s=30)
    refused = ErrorInfo(code="invalid_request", message="refused")
    error = LlmResult.failure("r1", refused, provider="openai", mode=Mode.BATCH)
    answers = [_ok(f"r{i}", cached=i == 2) for i in range(2, COUNT)]
    await store.save_results(lease, [error, *answers])

    cached = await store.cache.remember_job("run_1", endpoint=ENDPOINT)

    keyed = [i for i in range(3, COUNT) if i % 10 != 0]
    assert cached == len(keyed)
    found = await store.cache.get_many(["key-1", "key-2", "key-3", f"key-{COUNT - 1}"])
    assert set(found) == {"key-3", f"key-{COUNT - 1}"}
    assert found["key-3"].custom_id == "r3"


async def test_answers_are_cached_by_chunk_or_by_mode(store: SqliteJobStore) -> None:
    lease = await store.claim("run_1", "me", lease_s=30)
    late = LlmResult(custom_id="r1251", ok=True, provider="openai", mode=Mode.REALTIME)
    await store.save_results(lease, [_ok("r1"), _ok("r1249"), _ok("r1250"), late])

    assert await store.cache.remember_job("run_1", endpoint=ENDPOINT, chunk_id="run_1-0") == 2
    assert await store.cache.remember_job("run_1", endpoint=ENDPOINT, mode=Mode.REALTIME) == 1
    assert set(await store.cache.get_many(["key-1", "key-1249", "key-1251"])) == {
        "key-1",
        "key-1249",
        "key-1251",
    }


async def test_a_chunks_requests_decode_as_they_are_read_each_time(
    store: SqliteJobStore,
) -> None:
    requests = await store.chunk_requests("run_1-1")

    first = [r.custom_id for r in requests]
    assert first == [f"r{i}" for i in range(COUNT // 2, COUNT)]
    assert [r.custom_id for r in requests] == first


async def test_a_file_from_before_cache_keys_gains_the_column_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    old = SqliteJobStore(str(path))
    await old.open()
    await old.create_job(_job(), _planned(COUNT), [_chunk(0, COUNT // 2), _chunk(1, COUNT)])
    await old.close()
    with sqlite3.connect(path) as db:
        db.executescript("ALTER TABLE requests DROP COLUMN cache_key; PRAGMA user_version = 3;")

    reopened = SqliteJobStore(str(path))
    await reopened.open()
    try:
        lease = await reopened.claim("run_1", "me", lease_s=30)
        assert await reopened.save_results(lease, [_ok("r1")]) == (1, [])
        assert await reopened.cache.remember_job("run_1", endpoint=ENDPOINT) == 0
        with sqlite3.connect(path) as db:
            columns = [row[1] for row in db.execute("PRAGMA table_info(requests)")]
        assert "cache_key" in columns
    finally:
        await reopened.close()
