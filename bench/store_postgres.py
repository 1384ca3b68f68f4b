"""The job store's hot paths on PostgreSQL against SQLite, with the same work on each.

Per store: create one job of N requests in chunks of 1,000 (one transaction), claim it, stream
its pending requests, save its N results a page of 1,000 at a time (as a batch collect does),
append E fenced events one by one (as progress does), stream the results back, and count
them. PostgreSQL runs on a fresh schema of the given database, dropped after. Prints seconds
per step and PostgreSQL/SQLite.

    uv run python bench/store_postgres.py [--requests 20000] [--events 2000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from batchery.model import (
    ChunkState,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Message,
    Mode,
    RequestKind,
)
from batchery.store import ChunkRecord, JobStore, PlannedRequest, open_store

_PAGE = 1000


def _workload(n: int) -> tuple[Job, list[PlannedRequest], list[ChunkRecord]]:
    now = time.time()
    job = Job(
        id="run_bench",
        provider="openai",
        model="m",
        mode=Mode.BATCH,
        status=JobStatus.PENDING,
        total=n,
        created_at=now,
        updated_at=now,
        fingerprint="bench",
    )
    requests = [
        PlannedRequest(
            LlmRequest(custom_id=f"r{i}", messages=(Message("user", f"question {i}"),)),
            i // _PAGE,
        )
        for i in range(n)
    ]
    chunks = [
        ChunkRecord(
            id=f"run_bench-{c}",
            job_id="run_bench",
            index=c,
            kind=RequestKind.CHAT,
            model="m",
            state=ChunkState.PLANNED,
            request_count=_PAGE,
            byte_size=0,
        )
        for c in range((n + _PAGE - 1) // _PAGE)
    ]
    return job, requests, chunks


async def _steps(url: str, n: int, events: int) -> dict[str, float]:
    job, requests, chunks = _workload(n)
    results = [
        LlmResult(custom_id=f"r{i}", ok=True, provider="openai", mode=Mode.BATCH, text="answer")
        for i in range(n)
    ]
    store: JobStore = open_store(url)
    await store.open()
    took: dict[str, float] = {}
    try:
        start = time.perf_counter()
        await store.create_job(job, requests, chunks)
        took["create_job"] = time.perf_counter() - start
        lease = await store.claim(job.id, "bench", lease_s=300)
        start = time.perf_counter()
        pending = sum([1 async for _ in store.pending_requests(job.id)])
        took["pending"] = time.perf_counter() - start
        assert pending == n, pending
        start = time.perf_counter()
        for page in range(0, n, _PAGE):
            await store.save_results(
                lease, results[page : page + _PAGE], chunk_id=f"run_bench-{page // _PAGE}"
            )
        took["save_results"] = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(events):
            await store.append_event(job.id, lambda seq: b'{"seq":%d}' % seq, lease=lease)
        took["append_event"] = time.perf_counter() - start
        start = time.perf_counter()
        streamed = sum([1 async for _ in store.results(job.id)])
        took["results"] = time.perf_counter() - start
        counts = await store.counts(job.id)
        assert streamed == counts.succeeded == n, (streamed, counts)
    finally:
        await store.close()
    return took


async def _postgres(base: str, n: int, events: int) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            return await _steps(f"{base}?options=-csearch_path%3D{schema}", n, events)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


async def _main(n: int, events: int, postgres: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        sqlite = await _steps(f"sqlite:///{Path(scratch) / 'bench.db'}", n, events)
    pg = await _postgres(postgres, n, events)
    print(f"{n} requests, {events} events")
    print(f"{'step':<14}{'sqlite s':>10}{'postgres s':>12}{'pg/sqlite':>11}")
    for step, seconds in sqlite.items():
        print(f"{step:<14}{seconds:>10.3f}{pg[step]:>12.3f}{pg[step] / seconds:>11.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    options = parser.parse_args()
    asyncio.run(_main(options.requests, options.events, options.postgres))
