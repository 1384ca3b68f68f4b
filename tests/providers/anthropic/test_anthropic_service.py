"""Anthropic through core: the module booted by `build_application`, jobs run end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
import structlog
from batchery.app import provider_modules
from batchery.model import JobStatus, LlmRequest, LlmResult, Message, Mode
from batchery.service import BatchLlmService
from batchery.settings import Settings
from batchery.spi import EmulatorOptions
from batchery_anthropic import AnthropicModule, AnthropicOptions, options_from
from batchery_anthropic.emulator import AnthropicEmulator

from ..conftest import service_over

KEY = "sk-ant-api03-SERVICEcanary0123456789abcdefghij"
FAST = Settings(
    poll_interval_s=0.02,
    poll_backoff=1.0,
    poll_max_interval_s=0.02,
    reconcile_grace_s=0.02,
    default_provider="anthropic",
)
SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["a", "b"]}},
    "required": ["label"],
}
Open = Callable[..., AbstractAsyncContextManager[tuple[BatchLlmService, AnthropicEmulator]]]


@pytest.fixture
def harness(tmp_path: Path) -> Open:
    @asynccontextmanager
    async def open_app(
        faults: str = "", time_scale: float = 20_000, **settings: object
    ) -> AsyncIterator[tuple[BatchLlmService, AnthropicEmulator]]:
        options = EmulatorOptions(time_scale=time_scale, faults=faults, seed=11)
        async with AnthropicEmulator(options, api_key=KEY) as emulator:
            chosen = msgspec.structs.replace(FAST, store=str(tmp_path / "jobs.db"), **settings)
            async with service_over(emulator, "anthropic", KEY, chosen) as service:
                yield service, emulator

    return open_app


def chats(n: int, prefix: str = "q") -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix} {i}/é",
            messages=(Message("system", "Label it."), Message("user", f"item {i}")),
            response_schema=SCHEMA if i % 2 else None,
        )
        for i in range(n)
    ]


async def results_of(service: BatchLlmService, job_id: str) -> list[LlmResult]:
    return [r async for r in service.get_batch_results(job_id)]


async def test_a_batch_job_returns_one_result_per_request(harness: Open) -> None:
    async with harness(max_requests_per_batch=10) as (service, emulator):
        outcome = await service.run(chats(25), provider="anthropic", mode=Mode.BATCH)
        results = await results_of(service, outcome.job.id)
        batches = emulator.batches()
    assert outcome.job.status is JobStatus.COMPLETED
    assert (outcome.counts.total, outcome.counts.succeeded) == (25, 25)
    assert [r.custom_id for r in results] == [f"q {i}/é" for i in range(25)]
    assert all(r.mode is Mode.BATCH and r.provider == "anthropic" for r in results)
    assert all(msgspec.json.decode(r.text or "")["label"] in ("a", "b") for r in results[1::2])
    assert len(batches) == outcome.batches_submitted == 3


async def test_a_realtime_job_returns_one_result_per_request(harness: Open) -> None:
    async with harness("http_529=0.2,http_429=0.2,retry_after=0.01", max_attempts=10) as (
        service,
        _,
    ):
        outcome = await service.run(
            chats(12, "r"), provider="anthropic", mode=Mode.REALTIME, use_cache=False
        )
        results = await results_of(service, outcome.job.id)
    assert (outcome.counts.total, outcome.counts.succeeded) == (12, 12)
    assert [r.custom_id for r in results] == [f"r {i}/é" for i in range(12)]
    assert all(r.mode is Mode.REALTIME for r in results)


async def test_a_lost_create_is_adopted_not_resubmitted(harness: Open) -> None:
    async with harness("create_lost") as (service, emulator):
        with structlog.testing.capture_logs() as logs:
            outcome = await service.run(chats(21), provider="anthropic", mode=Mode.BATCH)
        batches = emulator.batches()
    assert outcome.counts.succeeded == 21
    assert len(batches) == 1
    assert KEY not in str(logs)
    assert KEY[:16] not in str(logs)


async def test_partial_and_broken_results_still_end_every_request(harness: Open) -> None:
    faults = "batch_expire,malformed=0.1,duplicate=0.1,unknown_id=0.1"
    async with harness(faults, time_scale=400_000, fallback=False) as (service, _):
        outcome = await service.run(chats(30), provider="anthropic", mode=Mode.BATCH)
        results = await results_of(service, outcome.job.id)
    assert outcome.counts.total == len(results) == len({r.custom_id for r in results}) == 30
    unfinished = [r for r in results if r.error is not None and r.error.retryable]
    assert unfinished
    assert {r.error.code for r in unfinished if r.error is not None} <= {
        "batch_expired",
        "missing_result",
    }
    assert 0 < outcome.counts.succeeded < 30


async def test_with_fallback_an_expired_batch_still_answers_everything(harness: Open) -> None:
    async with harness("batch_expire", time_scale=400_000) as (service, _):
        outcome = await service.run(chats(30), provider="anthropic", mode=Mode.BATCH)
    assert (outcome.counts.total, outcome.counts.succeeded) == (30, 30)


def test_the_module_is_registered_and_options_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert provider_modules()["anthropic"] is AnthropicModule
    assert AnthropicModule.INFO.name == "anthropic"
    assert AnthropicModule.exports == ("provider",)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://proxy.example")
    from_env = options_from({})
    assert from_env.base_url == "https://proxy.example"
    assert from_env.api_key is not None
    assert from_env.api_key.reveal() == "sk-ant-from-env"
    given = options_from(
        {"base_url": "http://127.0.0.1:9", "api_key": KEY, "max_get_attempts": "2"}
    )
    assert (given.base_url, given.max_get_attempts) == ("http://127.0.0.1:9", 2)
    assert given.api_key is not None
    assert given.api_key.reveal() == KEY
    assert KEY not in repr(given)
    with pytest.raises(ValueError, match="anthropic provider options"):
        options_from({"max_get_attempts": "many"})
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "")
    assert AnthropicOptions.from_env() == AnthropicOptions()


async def test_the_module_builds_its_own_emulator() -> None:
    emulator = AnthropicModule.emulator(EmulatorOptions(time_scale=3))
    assert isinstance(emulator, AnthropicEmulator)
    assert emulator.clock.time_scale == 3
