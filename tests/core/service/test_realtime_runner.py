"""RealtimeRunner on its own: one stored result per request, retries by the error's kind,
and nothing called once the job is cancelled or its lease is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from batchery.app import build_application
from batchery.events import ItemRetried, RunEvent
from batchery.model import LlmRequest, LlmResult, Message, Mode
from batchery.service import BatchLlmService
from batchery.service.lease_keeper import LeaseKeeper, Leases
from batchery.service.limiter import LimiterRegistry
from batchery.service.options import ServiceOptions
from batchery.service.realtime_runner import RealtimeRunner
from batchery.settings import Settings
from batchery.spi import EmulatorOptions, Provider
from batchery.store import LeaseLostError
from batchery_openai.emulator import OpenAIEmulator

KEY = "sk-test-runner"
COUNT = 12


class Opened(msgspec.Struct):
    service: BatchLlmService
    emulator: OpenAIEmulator


class Counted:
    """The real provider, counting the calls the runner makes through it."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)

    async def call(self, request: LlmRequest) -> LlmResult:
        self.calls += 1
        return await self.provider.call(request)


@pytest.fixture(params=[""])
async def opened(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opened]:
    options = EmulatorOptions(time_scale=2000.0, seed=5, faults=request.param)
    async with OpenAIEmulator(options, api_key=KEY) as emulator:
        app = await build_application(
            Settings(store=str(tmp_path / "jobs.db")),
            only=["openai"],
            provider_options={"openai": {"base_url": emulator.base_url, "api_key": KEY}},
        )
        try:
            yield Opened(await app.get("batchery.service"), emulator)
        finally:
            await app.close()


def faults(spec: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("opened", [spec], indirect=True)


async def drive(
    service: BatchLlmService,
    *,
    max_attempts: int = 3,
    before: str | None = None,
    counted: Counted | None = None,
) -> tuple[list[LlmResult], list[RunEvent], list[float]]:
    """Store a realtime job of COUNT chats and run them through a RealtimeRunner of its own;
    `before` is "cancel" or "lose" to do that to the lease first."""
    requests = [
        LlmRequest(custom_id=f"r{i}", messages=(Message("user", f"say {i}"),)) for i in range(COUNT)
    ]
    job = await service.create(await service.plan(requests, mode=Mode.REALTIME))
    store, bus = service.store, service.bus
    leases = Leases(store, bus, owner="runner-test", lease_s=30.0, heartbeat_s=5.0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    events: list[RunEvent] = []
    async with bus.subscribe() as queue, leases.held(job.id) as keeper:
        prepare(keeper, before)
        runner = RealtimeRunner(
            store=store,
            keeper=keeper,
            provider=counted or service.provider("openai"),
            bus=bus,
            options=ServiceOptions(max_attempts=max_attempts, realtime_concurrency=4),
            limiters=LimiterRegistry(),
            book=service.cost_book("openai"),
            sleep=sleep,
        )
        try:
            await runner.run(keeper.lease, job, store.pending_requests(job.id))
        finally:
            keeper.lost = False
            while not queue.empty():
                events.append(queue.get_nowait())
    return [r async for r in store.results(job.id)], events, slept


def prepare(keeper: LeaseKeeper, before: str | None) -> None:
    if before == "cancel":
        keeper.cancel_requested.set()
    elif before == "lose":
        keeper.lost = True


async def test_every_request_gets_exactly_one_stored_answer(opened: Opened) -> None:
    results, events, slept = await drive(opened.service)

    assert sorted(r.custom_id for r in results) == sorted(f"r{i}" for i in range(COUNT))
    assert all(r.ok and r.mode is Mode.REALTIME for r in results)
    assert (slept, [e for e in events if isinstance(e, ItemRetried)]) == ([], [])


@faults("http_429=0.5,retry_after=0.01")
async def test_rate_limits_are_retried_past_max_attempts_and_answered(opened: Opened) -> None:
    results, events, _ = await drive(opened.service, max_attempts=1)

    retried = [e for e in events if isinstance(e, ItemRetried)]
    assert retried, "no 429 was answered"
    assert {e.reason for e in retried} == {"rate_limited"}
    assert all(r.ok for r in results)
    assert len(results) == COUNT


@faults("http_500=1")
async def test_server_errors_are_tried_max_attempts_times_then_stored_as_errors(
    opened: Opened,
) -> None:
    results, events, slept = await drive(opened.service, max_attempts=3)

    assert len(results) == COUNT
    assert {(r.ok, r.error.code if r.error else None) for r in results} == {(False, "server_error")}
    retried = [e for e in events if isinstance(e, ItemRetried)]
    assert sorted((e.custom_id, e.attempt) for e in retried) == sorted(
        (f"r{i}", attempt) for i in range(COUNT) for attempt in (2, 3)
    )
    assert len(slept) == 2 * COUNT
    assert all(s > 0 for s in slept)


async def test_a_cancelled_job_calls_nothing_and_stores_nothing(opened: Opened) -> None:
    counted = Counted(opened.service.provider("openai"))
    results, _, _ = await drive(opened.service, before="cancel", counted=counted)

    assert (results, counted.calls) == ([], 0)


async def test_a_lost_lease_stops_before_the_first_call(opened: Opened) -> None:
    counted = Counted(opened.service.provider("openai"))
    with pytest.raises(LeaseLostError):
        await drive(opened.service, before="lose", counted=counted)

    [job] = await opened.service.store.list_jobs()
    assert counted.calls == 0
    assert (await opened.service.store.counts(job.id)).finished == 0
