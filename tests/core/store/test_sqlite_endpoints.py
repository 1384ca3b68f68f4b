"""What the store remembers belongs to an endpoint: cached answers, turnarounds and spend,
and a finished job reopens for exactly the failures a re-run sends again."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from batchery.model import (
    Endpoint,
    ErrorInfo,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Message,
    Mode,
)
from batchery.store import PlannedRequest, SqliteJobStore

EMULATOR = Endpoint(provider="openai", base_url="http://127.0.0.1:4010/v1", emulated=True)
REAL = Endpoint(provider="openai")
OTHER = Endpoint(provider="openai", base_url="http://127.0.0.1:4020/v1")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    opened = SqliteJobStore(str(tmp_path / "jobs.db"))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def _job(job_id: str, endpoint: Endpoint | None) -> Job:
    now = time.time()
    return Job(
        id=job_id,
        provider="openai",
        model="m",
        mode=Mode.REALTIME,
        status=JobStatus.PENDING,
        total=3,
        created_at=now,
        updated_at=now,
        endpoint=endpoint,
    )


def _answer(custom_id: str, cost: float = 0.5) -> LlmResult:
    return LlmResult(
        custom_id=custom_id,
        ok=True,
        provider="openai",
        mode=Mode.REALTIME,
        text="hi",
        cost_usd=cost,
        realtime_cost_usd=cost,
    )


def _failure(custom_id: str, *, retryable: bool) -> LlmResult:
    error = ErrorInfo(code="x", message="no", retryable=retryable)
    return LlmResult.failure(custom_id, error, provider="openai", mode=Mode.REALTIME)


async def _finished_job(
    store: SqliteJobStore, job_id: str, endpoint: Endpoint | None, results: list[LlmResult]
) -> None:
    requests = [
        PlannedRequest(LlmRequest(custom_id=r.custom_id, messages=(Message("user", "q"),)))
        for r in results
    ]
    await store.create_job(_job(job_id, endpoint), requests, [])
    lease = await store.claim(job_id, "test", lease_s=30)
    await store.set_job_status(lease, JobStatus.RUNNING)
    await store.save_results(lease, results)
    await store.set_job_status(lease, JobStatus.COMPLETED)


async def test_cached_answers_are_stored_with_the_endpoint_they_came_from(
    store: SqliteJobStore,
) -> None:
    await store.cache.put_many([("k1", _answer("a"))], endpoint=EMULATOR)

    assert set(await store.cache.get_many(["k1"])) == {"k1"}
    with sqlite3.connect(store.path) as db:
        row = db.execute("SELECT endpoint, base_url, emulated FROM result_cache").fetchone()
    assert row == (EMULATOR.key, EMULATOR.base_url, 1)


async def test_turnarounds_speak_only_for_their_own_endpoint(store: SqliteJobStore) -> None:
    await store.history.record_turnaround(EMULATOR, "m", 40, 0.3)
    await store.history.record_turnaround(OTHER, "m", 40, 900.0)

    assert await store.history.turnarounds(EMULATOR, "m") == [(40, 0.3)]
    assert await store.history.turnarounds(OTHER, "m") == [(40, 900.0)]
    assert await store.history.turnarounds(REAL, "m") == []


async def test_cost_report_counts_real_spend_unless_emulated_is_asked_for(
    store: SqliteJobStore,
) -> None:
    await _finished_job(store, "run_emu", EMULATOR, [_answer("a"), _answer("b")])
    await _finished_job(store, "run_real", REAL, [_answer("c", cost=2.0)])

    real = await store.history.cost_report()
    both = await store.history.cost_report(emulated=True)

    assert [(r.base_url, r.emulated, r.requests, r.cost_usd) for r in real] == [
        (None, False, 1, 2.0)
    ]
    assert sorted((r.base_url or "", r.emulated, r.requests) for r in both) == [
        ("", False, 1),
        (EMULATOR.base_url, True, 2),
    ]


async def test_spend_of_jobs_stored_without_an_endpoint_is_marked_unrecorded(
    store: SqliteJobStore,
) -> None:
    await _finished_job(store, "run_old", None, [_answer("a")])

    [row] = await store.history.cost_report()

    assert (row.recorded, row.emulated, row.base_url) == (False, False, None)


async def test_reopen_drops_only_retryable_failures_and_sets_the_job_running(
    store: SqliteJobStore,
) -> None:
    results = [_answer("ok"), _failure("flaky", retryable=True), _failure("bad", retryable=False)]
    await _finished_job(store, "run_1", REAL, results)
    lease = await store.claim("run_1", "test", lease_s=30)

    assert await store.reopen(lease, permanent=False) == 1

    job = await store.get_job("run_1")
    assert job is not None
    assert job.status is JobStatus.RUNNING
    assert [r.custom_id async for r in store.pending_requests("run_1")] == ["flaky"]
    assert [r.custom_id async for r in store.results("run_1")] == ["ok", "bad"]


async def test_reopen_with_permanent_drops_every_failure_but_keeps_answers(
    store: SqliteJobStore,
) -> None:
    results = [_answer("ok"), _failure("flaky", retryable=True), _failure("bad", retryable=False)]
    await _finished_job(store, "run_1", REAL, results)
    lease = await store.claim("run_1", "test", lease_s=30)

    assert await store.reopen(lease, permanent=True) == 2

    assert [r.custom_id async for r in store.pending_requests("run_1")] == ["flaky", "bad"]
    assert [r.custom_id async for r in store.results("run_1")] == ["ok"]


async def test_reopen_leaves_a_job_without_failures_finished(store: SqliteJobStore) -> None:
    await _finished_job(store, "run_1", REAL, [_answer("ok")])
    lease = await store.claim("run_1", "test", lease_s=30)

    assert await store.reopen(lease, permanent=True) == 0

    job = await store.get_job("run_1")
    assert job is not None
    assert job.status is JobStatus.COMPLETED


async def test_a_store_from_before_endpoints_drops_its_unscoped_cache_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    old = SqliteJobStore(str(tmp_path / "old.db"))
    await old.open()
    await _finished_job(old, "run_old", None, [_answer("a")])
    await old.close()
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.executescript(
            "ALTER TABLE result_cache DROP COLUMN endpoint;"
            " ALTER TABLE result_cache DROP COLUMN base_url;"
            " ALTER TABLE result_cache DROP COLUMN emulated;"
            " DROP INDEX turnarounds_endpoint; ALTER TABLE turnarounds DROP COLUMN endpoint;"
            " INSERT INTO result_cache (key, body, created_at) VALUES ('k', x'7b7d', 0);"
            " PRAGMA user_version = 2;"
        )

    reopened = SqliteJobStore(str(tmp_path / "old.db"))
    await reopened.open()
    try:
        assert await reopened.cache.get_many(["k"]) == {}
        assert await reopened.get_job("run_old") is not None
        await reopened.history.record_turnaround(REAL, "m", 1, 1.0)
        assert await reopened.history.turnarounds(REAL, "m") == [(1, 1.0)]
    finally:
        await reopened.close()
