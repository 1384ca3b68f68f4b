"""The provider against the emulator over real loopback HTTP, terminal state by terminal state.

The emulator runs at `time_scale=1` and its clock is jumped with `clock.advance`, so each batch
is caught in exactly the state a test needs without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
import structlog
from batchery.model import BatchState, BatchStatus, LlmRequest, LlmResult, Message
from batchery.secrets import Secret
from batchery.spi import BatchNotFoundError, EmulatorOptions, MalformedLine, ProviderError
from batchery_anthropic import AnthropicOptions, AnthropicProvider, create_session
from batchery_anthropic.emulator import (
    CANCELING_S,
    REQUESTS_PER_S,
    START_S,
    WINDOW_S,
    AnthropicEmulator,
)

from ..conftest import Opened

KEY = "sk-ant-api03-CLIENTcanary0123456789abcdefghij"
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
Start = Callable[..., Awaitable[tuple[AnthropicEmulator, AnthropicProvider]]]


@pytest.fixture
def start(opened: Opened) -> Start:
    async def launch(
        faults: str = "", *, key: str = KEY, emulator: AnthropicEmulator | None = None
    ) -> tuple[AnthropicEmulator, AnthropicProvider]:
        if emulator is None:
            emulator = AnthropicEmulator(EmulatorOptions(faults=faults, seed=7), api_key=KEY)
            await opened.emulator(emulator)
        options = AnthropicOptions(
            api_key=Secret(key),
            base_url=emulator.base_url,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
        )
        return emulator, AnthropicProvider(options, opened.session(create_session(options)))

    return launch


def chats(count: int, prefix: str = "q", **fields: Any) -> list[LlmRequest]:
    base = [
        LlmRequest(custom_id=f"{prefix}-{i}", messages=(Message("user", f"q {i}"),))
        for i in range(count)
    ]
    return [msgspec.structs.replace(request, **fields) for request in base]


def finish(emulator: AnthropicEmulator, count: int) -> None:
    emulator.clock.advance(START_S + count / REQUESTS_PER_S + 1)


async def collect(
    provider: AnthropicProvider, state: BatchState
) -> list[LlmResult | MalformedLine]:
    return [item async for item in provider.collect(state)]


def results(items: list[LlmResult | MalformedLine]) -> dict[str, LlmResult]:
    return {item.custom_id: item for item in items if isinstance(item, LlmResult)}


async def test_a_batch_from_submit_to_collect(start: Start) -> None:
    emulator, provider = await start()
    awkward = ["plain", "with space", "日本語の鍵", "_b64_aGVsbG8", 'quo"te']
    requests = [
        LlmRequest(
            custom_id=custom_id,
            messages=(Message("system", "terse"), Message("user", custom_id)),
            response_schema=SCHEMA if index % 2 else None,
        )
        for index, custom_id in enumerate(awkward)
    ]
    before = time.time()
    state = await provider.submit_batch(requests, tag="job-1:0")
    assert state.batch_id.startswith("msgbatch_")
    assert (state.status, state.total, state.tag) == (BatchStatus.IN_PROGRESS, 5, "job-1:0")
    assert before - 1 <= state.created_at <= time.time() + 1

    emulator.clock.advance(START_S + 1)
    running = await provider.get_batch(state.batch_id)
    assert (running.status, running.total, running.completed, running.failed) == (
        BatchStatus.IN_PROGRESS,
        5,
        0,
        0,
    )
    finish(emulator, 5)
    final = await provider.get_batch(state.batch_id)
    assert (final.status, final.total, final.completed, final.failed) == (
        BatchStatus.COMPLETED,
        5,
        5,
        0,
    )
    assert final.tag == "job-1:0"
    got = results(await collect(provider, final))
    assert sorted(got) == sorted(awkward)
    assert all(r.ok and r.provider == "anthropic" for r in got.values())
    assert msgspec.json.decode(got["with space"].text or "") in ({"ok": True}, {"ok": False})
    assert "日本語の鍵" in (got["日本語の鍵"].text or "")
    [wire] = emulator.batches()
    assert wire.processing_status == "ended"
    assert wire.results_url == f"{emulator.base_url}/v1/messages/batches/{state.batch_id}/results"


async def test_an_expired_batch_keeps_what_it_finished(start: Start) -> None:
    emulator, provider = await start("batch_expire")
    state = await provider.submit_batch(chats(10), tag="t")
    finish(emulator, 10)
    assert (await provider.get_batch(state.batch_id)).status is BatchStatus.IN_PROGRESS
    emulator.clock.advance(WINDOW_S)
    final = await provider.get_batch(state.batch_id)
    assert (final.status, final.completed, final.failed) == (BatchStatus.EXPIRED, 5, 5)
    got = results(await collect(provider, final))
    assert sorted(k for k, r in got.items() if r.ok) == [f"q-{i}" for i in range(5)]
    for i in range(5, 10):
        error = got[f"q-{i}"].error
        assert error is not None
        assert (error.code, error.retryable) == ("batch_expired", True)


async def test_a_cancelled_batch_keeps_what_it_finished_and_cancel_is_idempotent(
    start: Start,
) -> None:
    emulator, provider = await start()
    state = await provider.submit_batch(chats(10), tag="t")
    emulator.clock.advance(START_S + 4 / REQUESTS_PER_S)
    first = await provider.cancel_batch(state.batch_id)
    second = await provider.cancel_batch(state.batch_id)
    assert first.status is second.status is BatchStatus.CANCELLING
    assert first.tag == "t"
    emulator.clock.advance(CANCELING_S + 1)
    final = await provider.get_batch(state.batch_id)
    assert (final.status, final.completed, final.failed) == (BatchStatus.CANCELLED, 4, 6)
    again = await provider.cancel_batch(state.batch_id)
    assert again.status is BatchStatus.CANCELLED
    got = results(await collect(provider, final))
    assert sum(r.ok for r in got.values()) == 4
    unrun = [r.error for r in got.values() if not r.ok]
    assert len(unrun) == 6
    assert all(e is not None and (e.code, e.retryable) == ("batch_cancelled", True) for e in unrun)

    done = await provider.submit_batch(chats(2), tag="u")
    finish(emulator, 2)
    late = await provider.cancel_batch(done.batch_id)
    assert late.status is BatchStatus.COMPLETED


async def test_every_request_failing_still_completes(start: Start) -> None:
    emulator, provider = await start("all_errors")
    state = await provider.submit_batch(chats(6), tag="t")
    finish(emulator, 6)
    final = await provider.get_batch(state.batch_id)
    assert (final.status, final.completed, final.failed) == (BatchStatus.COMPLETED, 0, 6)
    got = results(await collect(provider, final))
    assert len(got) == 6
    assert not any(r.ok for r in got.values())
    codes = {r.error.code for r in got.values() if r.error is not None}
    assert codes <= {"invalid_request", "overloaded", "server_error"}


async def test_line_errors_are_classified_per_request(start: Start) -> None:
    emulator, provider = await start("line_error=0.5")
    state = await provider.submit_batch(chats(40), tag="t")
    finish(emulator, 40)
    got = results(await collect(provider, await provider.get_batch(state.batch_id)))
    assert len(got) == 40
    failed = [r.error for r in got.values() if r.error is not None]
    assert 5 < len(failed) < 35
    verdicts = {e.code: e.retryable for e in failed}
    assert set(verdicts) <= {"invalid_request", "overloaded", "server_error"}
    assert verdicts.get("overloaded", True)
    assert verdicts.get("server_error", True)
    assert not verdicts.get("invalid_request", False)


async def test_broken_duplicate_unknown_and_shuffled_lines(start: Start) -> None:
    emulator, provider = await start("malformed=0.3,duplicate=0.3,unknown_id=0.3,shuffle")
    requests = chats(60)
    state = await provider.submit_batch(requests, tag="t")
    finish(emulator, 60)
    items = await collect(provider, await provider.get_batch(state.batch_id))
    good = [i for i in items if isinstance(i, LlmResult)]
    bad = [i for i in items if isinstance(i, MalformedLine)]
    mine = {r.custom_id for r in requests}
    delivered = [r.custom_id for r in good if r.custom_id in mine]
    strangers = [r.custom_id for r in good if r.custom_id not in mine]
    assert len(delivered) == len(set(delivered))
    assert strangers
    assert all(s.startswith("unknown_") for s in strangers)
    duplicates = [b for b in bad if b.reason == "results: duplicate custom_id"]
    broken = [b for b in bad if b not in duplicates]
    assert duplicates
    assert all(b.custom_id in delivered for b in duplicates)
    assert broken
    assert all(b.custom_id not in delivered for b in broken if b.custom_id in mine)
    assert len(delivered) + len(broken) >= len(requests)
    order = [r.custom_id for r in good if r.custom_id in mine]
    assert order != sorted(order, key=lambda c: int(c.split("-")[1]))


async def test_reconcile_finds_a_lost_create(start: Start) -> None:
    emulator, provider = await start("create_lost")
    since = time.time() - 300
    with pytest.raises(ProviderError) as lost:
        await provider.submit_batch(chats(3), tag="first")
    assert (lost.value.retryable, lost.value.status) == (True, 500)
    [created] = emulator.batches()
    found = await provider.find_batch("first", created_after=since, request_count=3)
    assert found is not None
    assert (found.batch_id, found.tag, found.total) == (created.id, "first", 3)
    assert await provider.find_batch("first", created_after=since, request_count=3) == found
    assert await provider.find_batch("other", created_after=since, request_count=3) is None
    assert await provider.find_batch("n", created_after=since, request_count=4) is None
    late = found.created_at + 1
    assert await provider.find_batch("first", created_after=late, request_count=3) is None
    assert len(emulator.batches()) == 1


async def test_reconcile_skips_batches_this_process_tied_to_other_tags(start: Start) -> None:
    emulator, provider = await start("create_lost")
    since = time.time() - 300
    adopted: list[str] = []
    for tag in ("chunk-0", "chunk-1", "chunk-2"):
        with pytest.raises(ProviderError):
            await provider.submit_batch(chats(4, tag), tag=tag)
        found = await provider.find_batch(tag, created_after=since, request_count=4)
        assert found is not None
        adopted.append(found.batch_id)
    assert adopted == [b.id for b in emulator.batches()]

    _, restarted = await start(emulator=emulator)
    with structlog.testing.capture_logs() as logs:
        newest = await restarted.find_batch("chunk-2", created_after=since, request_count=4)
    assert newest is not None
    assert newest.batch_id == adopted[-1]
    [warning] = [e for e in logs if e["event"] == "anthropic.reconcile.ambiguous"]
    assert warning["passed_over"] == adopted[1::-1]


async def test_a_dropped_create_is_found_too(start: Start) -> None:
    emulator, provider = await start("create_dropped")
    since = time.time() - 300
    with pytest.raises(ProviderError) as dropped:
        await provider.submit_batch(chats(2), tag="t")
    assert dropped.value.retryable
    assert dropped.value.code == "connection_error"
    found = await provider.find_batch("t", created_after=since, request_count=2)
    assert found is not None
    assert found.batch_id == emulator.batches()[0].id


async def test_a_new_batch_may_be_unknown_for_a_while(start: Start) -> None:
    emulator, provider = await start("batch_404=30")
    state = await provider.submit_batch(chats(1), tag="t")
    with pytest.raises(BatchNotFoundError) as missing:
        await provider.get_batch(state.batch_id)
    assert missing.value.retryable
    emulator.clock.advance(12)
    with pytest.raises(ProviderError) as early:
        await collect(provider, state)
    assert early.value.retryable
    emulator.clock.advance(30)
    final = await provider.get_batch(state.batch_id)
    assert final.status is BatchStatus.COMPLETED
    assert len(await collect(provider, final)) == 1
    with pytest.raises(BatchNotFoundError):
        await provider.get_batch("msgbatch_01nothere")
    with pytest.raises(BatchNotFoundError):
        await provider.cancel_batch("msgbatch_01nothere")


async def test_a_wrong_key_is_permanent_and_never_shown(start: Start) -> None:
    _, provider = await start(key="sk-ant-api03-WRONGwrongWRONGwrong")
    with structlog.testing.capture_logs() as logs, pytest.raises(ProviderError) as denied:
        await provider.submit_batch(chats(1), tag="t")
    assert (denied.value.code, denied.value.retryable, denied.value.status) == ("auth", False, 401)
    assert "WRONGwrong" not in str(denied.value)
    assert "WRONGwrong" not in str(logs)


async def test_the_canary_key_appears_nowhere(start: Start) -> None:
    emulator, provider = await start("create_lost,line_error=0.3,malformed=0.2")
    with structlog.testing.capture_logs() as logs:
        try:
            await provider.submit_batch(chats(8), tag="t")
        except ProviderError as exc:
            failure = exc
        found = await provider.find_batch("t", created_after=time.time() - 300, request_count=8)
        assert found is not None
        finish(emulator, 8)
        items = await collect(provider, await provider.get_batch(found.batch_id))
    seen = " ".join([str(logs), str(failure), repr(failure), repr(provider), repr(items)])
    for form in (KEY, KEY[:16], KEY[-16:]):
        assert form not in seen
