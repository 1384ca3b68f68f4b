"""Jobs, requests, chunks and results as the store contract tests build them."""

from __future__ import annotations

import time

from batchery.model import (
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
from batchery.store import ChunkRecord, PlannedRequest


def job(job_id: str = "run_1", *, fingerprint: str | None = None, total: int = 3) -> Job:
    now = time.time()
    return Job(
        id=job_id,
        provider="openai",
        model="m",
        mode=Mode.BATCH,
        status=JobStatus.PENDING,
        total=total,
        created_at=now,
        updated_at=now,
        fingerprint=fingerprint,
    )


def planned(n: int = 3, *, chunk: int | None = 0) -> list[PlannedRequest]:
    return [
        PlannedRequest(LlmRequest(custom_id=f"r{i}", messages=(Message("user", f"q{i}"),)), chunk)
        for i in range(n)
    ]


def chunk(job_id: str = "run_1", index: int = 0, count: int = 3) -> ChunkRecord:
    return ChunkRecord(
        id=f"{job_id}-{index}",
        job_id=job_id,
        index=index,
        kind=RequestKind.CHAT,
        model="m",
        state=ChunkState.PLANNED,
        request_count=count,
        byte_size=100 * count,
    )


def ok(
    custom_id: str,
    text: str = "answer",
    *,
    model: str | None = None,
    cost_usd: float | None = None,
    realtime_cost_usd: float | None = None,
    cached: bool = False,
) -> LlmResult:
    return LlmResult(
        custom_id=custom_id,
        ok=True,
        provider="openai",
        mode=Mode.BATCH,
        model=model,
        text=text,
        cost_usd=cost_usd,
        realtime_cost_usd=realtime_cost_usd,
        cached=cached,
    )


def failed(custom_id: str, *, retryable: bool) -> LlmResult:
    error = ErrorInfo(
        code="server_error" if retryable else "invalid_request", message="no", retryable=retryable
    )
    return LlmResult(custom_id=custom_id, ok=False, provider="openai", mode=Mode.BATCH, error=error)
