"""End to end through core: `build_application` with only Gemini, against its emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from batchery.model import JobStatus, LlmRequest, LlmResult, Message, Mode, RequestKind
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_gemini.emulator import GeminiEmulator

from ..conftest import service_over

KEY = "AIzaSyCANARYservice0123456789abcdefghij"
FAST = Settings(
    poll_interval_s=0.05, poll_backoff=1.0, poll_max_interval_s=0.05, reconcile_grace_s=0.05
)
SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["a", "b"]}},
    "required": ["label"],
}

Open = Callable[..., AbstractAsyncContextManager[tuple[BatchLlmService, GeminiEmulator]]]


@pytest.fixture
def open_service(tmp_path: Path) -> Open:
    @asynccontextmanager
    async def opened(
        faults: str = "", time_scale: float = 2000.0, **settings: object
    ) -> AsyncIterator[tuple[BatchLlmService, GeminiEmulator]]:
        options = EmulatorOptions(time_scale=time_scale, faults=faults, seed=11)
        async with GeminiEmulator(options, api_key=KEY) as emulator:
            chosen = msgspec.structs.replace(FAST, store=str(tmp_path / "jobs.db"), **settings)
            async with service_over(emulator, "gemini", KEY, chosen) as service:
                yield service, emulator

    return opened


def chats(count: int, prefix: str = "c") -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix}-{i}",
            messages=(Message("user", f"item {i}"),),
            response_schema=SCHEMA,
        )
        for i in range(count)
    ]


async def results_of(service: BatchLlmService, job_id: str) -> list[LlmResult]:
    return [r async for r in service.get_batch_results(job_id)]


async def test_batch_mode_returns_one_result_per_request(open_service: Open) -> None:
    async with open_service(max_requests_per_batch=40) as (service, emulator):
        outcome = await service.run(chats(100), provider="gemini", mode=Mode.BATCH)
        results = await results_of(service, outcome.job.id)
        batches = emulator.batches()
    assert outcome.job.status is JobStatus.COMPLETED
    assert (outcome.counts.total, outcome.counts.succeeded) == (100, 100)
    assert sorted(r.custom_id for r in results) == sorted(f"c-{i}" for i in range(100))
    assert all(msgspec.json.decode(r.text or "")["label"] in ("a", "b") for r in results)
    assert len(batches) == 3
    assert {b.metadata.display_name[:9] for b in batches if b.metadata.display_name} == {
        "batchery-"
    }


async def test_realtime_mode_returns_one_result_per_request(open_service: Open) -> None:
    requests = chats(10) + [
        LlmRequest(custom_id=f"e-{i}", kind=RequestKind.EMBEDDING, input=f"doc {i}")
        for i in range(5)
    ]
    async with open_service() as (service, emulator):
        outcome = await service.run(requests, provider="gemini", mode=Mode.REALTIME)
        results = await results_of(service, outcome.job.id)
    assert outcome.job.status is JobStatus.COMPLETED
    assert outcome.counts.succeeded == 15
    assert sorted(r.custom_id for r in results) == sorted(r.custom_id for r in requests)
    assert all(r.vector for r in results if r.custom_id.startswith("e-"))
    assert emulator.batches() == []


async def test_batch_and_realtime_answers_agree(open_service: Open) -> None:
    async with open_service() as (service, _):
        batch = await service.run(chats(5, "same"), provider="gemini", mode=Mode.BATCH)
        realtime = await service.run(chats(5, "same"), provider="gemini", mode=Mode.REALTIME)
        batch_results = await results_of(service, batch.job.id)
        realtime_results = await results_of(service, realtime.job.id)
    assert {r.custom_id: r.text for r in batch_results} == {
        r.custom_id: r.text for r in realtime_results
    }


async def test_a_lost_create_is_adopted_not_resubmitted(open_service: Open) -> None:
    async with open_service("create_lost") as (service, emulator):
        outcome = await service.run(chats(8, "lost"), provider="gemini", mode=Mode.BATCH)
        batches = emulator.batches()
    assert outcome.job.status is JobStatus.COMPLETED
    assert outcome.counts.succeeded == 8
    assert len(batches) == 1


async def test_an_expired_batch_still_ends_every_request_once(open_service: Open) -> None:
    """Gemini's expiry leaves no results: each request ends failed, or answered by a fallback."""
    async with open_service("batch_expire", time_scale=500_000.0) as (service, emulator):
        outcome = await service.run(chats(6, "exp"), provider="gemini", mode=Mode.BATCH)
        results = await results_of(service, outcome.job.id)
    assert outcome.job.status.terminal
    assert sorted(r.custom_id for r in results) == [f"exp-{i}" for i in range(6)]
    assert all(r.ok or (r.error is not None and r.error.code == "batch_expired") for r in results)
    assert emulator.batches()[0].metadata.state == "BATCH_STATE_EXPIRED"
