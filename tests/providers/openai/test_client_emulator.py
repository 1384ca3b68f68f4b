"""The client against the OpenAI emulator over real loopback HTTP, fault by fault.

The emulator runs at `time_scale=1` and its clock is jumped forward with `clock.advance`, so
each batch is caught in exactly the state a test needs without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
import pytest
import structlog
from batchery.model import BatchState, BatchStatus, LlmRequest, LlmResult, Message, RequestKind
from batchery.secrets import Secret
from batchery.spi import BatchNotFoundError, EmulatorOptions, MalformedLine, ProviderError
from batchery_openai._options import OpenAIOptions, create_session
from batchery_openai._provider import OpenAIProvider
from batchery_openai.emulator import (
    CANCELLING_S,
    FINALIZING_S,
    REQUESTS_PER_S,
    VALIDATING_S,
    WINDOW_S,
    OpenAIEmulator,
)

from ..conftest import Opened

KEY = "sk-proj-EMULATORcanary0123456789abcdef"
Start = Callable[..., Awaitable[tuple[OpenAIEmulator, OpenAIProvider]]]


@pytest.fixture
def start(opened: Opened) -> Start:
    async def launch(faults: str = "", *, key: str = KEY) -> tuple[OpenAIEmulator, OpenAIProvider]:
        emulator = OpenAIEmulator(EmulatorOptions(faults=faults, seed=7), api_key=KEY)
        await opened.emulator(emulator)
        options = OpenAIOptions(
            api_key=Secret(key),
            base_url=emulator.base_url,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
        )
        return emulator, OpenAIProvider(options, opened.session(create_session(options)))

    return launch


def _chats(count: int, **fields: Any) -> list[LlmRequest]:
    base = [
        LlmRequest(custom_id=f"q-{i}", messages=(Message("user", f"q {i}"),)) for i in range(count)
    ]
    return [msgspec.structs.replace(request, **fields) for request in base]


def _finish_all(emulator: OpenAIEmulator, count: int) -> None:
    emulator.clock.advance(VALIDATING_S + count / REQUESTS_PER_S + FINALIZING_S + 1)


async def _collect(provider: OpenAIProvider, state: BatchState) -> list[LlmResult | MalformedLine]:
    return [item async for item in provider.collect(state)]


async def test_chat_batch_from_submit_to_collect(start: Start) -> None:
    emulator, provider = await start()
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    requests = _chats(12, response_schema=schema, max_tokens=50)
    before = time.time()
    state = await provider.submit_batch(requests, tag="job-1:0")
    assert (state.status, state.tag) == (BatchStatus.VALIDATING, "job-1:0")
    assert state.created_at >= int(before)
    _finish_all(emulator, len(requests))
    done = await provider.get_batch(state.batch_id)
    assert (done.status, done.total, done.completed, done.failed) == (
        BatchStatus.COMPLETED,
        12,
        12,
        0,
    )
    items = await _collect(provider, done)
    assert all(isinstance(item, LlmResult) and item.ok for item in items)
    results = {item.custom_id: item for item in items if isinstance(item, LlmResult)}
    assert set(results) == {request.custom_id for request in requests}
    for result in results.values():
        assert result.text is not None
        assert isinstance(msgspec.json.decode(result.text)["ok"], bool)
        assert result.usage.input_tokens > 0
        assert result.usage.output_tokens > 0


async def test_embedding_batch_and_realtime_agree_on_shape(start: Start) -> None:
    emulator, provider = await start()
    requests = [
        LlmRequest(custom_id=f"e-{i}", kind=RequestKind.EMBEDDING, input=f"text {i}")
        for i in range(3)
    ]
    state = await provider.submit_batch(requests, tag="emb")
    _finish_all(emulator, len(requests))
    items = await _collect(provider, await provider.get_batch(state.batch_id))
    vectors = {item.custom_id: item.vector for item in items if isinstance(item, LlmResult)}
    assert set(vectors) == {"e-0", "e-1", "e-2"}
    realtime = await provider.call(requests[0])
    assert realtime.vector == vectors["e-0"]


async def test_expired_batch_keeps_its_finished_half(start: Start) -> None:
    emulator, provider = await start("batch_expire")
    requests = _chats(10)
    state = await provider.submit_batch(requests, tag="exp")
    emulator.clock.advance(WINDOW_S + 1)
    expired = await provider.get_batch(state.batch_id)
    assert expired.status is BatchStatus.EXPIRED
    items = await _collect(provider, expired)
    ok = sorted(item.custom_id for item in items if isinstance(item, LlmResult) and item.ok)
    unfinished = [item for item in items if isinstance(item, LlmResult) and not item.ok]
    assert len(ok) == 5
    assert len(unfinished) == 5
    assert {item.custom_id for item in unfinished} | set(ok) == {r.custom_id for r in requests}
    for item in unfinished:
        assert item.error is not None
        assert (item.error.code, item.error.retryable) == ("batch_expired", True)


async def test_cancel_is_idempotent_and_keeps_partial_results(start: Start) -> None:
    emulator, provider = await start()
    requests = _chats(10)
    state = await provider.submit_batch(requests, tag="cancel-me")
    emulator.clock.advance(VALIDATING_S + 4 / REQUESTS_PER_S)
    running = await provider.get_batch(state.batch_id)
    assert running.status is BatchStatus.IN_PROGRESS
    first = await provider.cancel_batch(state.batch_id)
    again = await provider.cancel_batch(state.batch_id)
    assert first.status is again.status is BatchStatus.CANCELLING
    emulator.clock.advance(CANCELLING_S + 1)
    cancelled = await provider.cancel_batch(state.batch_id)
    assert cancelled.status is BatchStatus.CANCELLED
    items = await _collect(provider, cancelled)
    results = [item for item in items if isinstance(item, LlmResult)]
    assert len(results) == len(items) == 10
    done = [item for item in results if item.ok]
    assert 1 <= len(done) < 10
    for item in results:
        if not item.ok:
            assert item.error is not None
            assert (item.error.code, item.error.retryable) == ("batch_cancelled", True)


async def test_cancel_of_a_completed_batch_returns_its_state(start: Start) -> None:
    emulator, provider = await start()
    state = await provider.submit_batch(_chats(2), tag="late-cancel")
    _finish_all(emulator, 2)
    finished = await provider.cancel_batch(state.batch_id)
    assert finished.status is BatchStatus.COMPLETED


async def test_completed_with_no_output_file(start: Start) -> None:
    emulator, provider = await start("all_errors")
    state = await provider.submit_batch(_chats(4), tag="all-bad")
    _finish_all(emulator, 4)
    done = await provider.get_batch(state.batch_id)
    assert emulator.batches()[0].output_file_id is None
    assert done.status is BatchStatus.COMPLETED
    items = await _collect(provider, done)
    assert len(items) == 4
    assert all(isinstance(item, LlmResult) and not item.ok for item in items)


async def test_empty_string_error_file_is_absent(start: Start) -> None:
    emulator, provider = await start("empty_error_file")
    state = await provider.submit_batch(_chats(3), tag="clean")
    _finish_all(emulator, 3)
    done = await provider.get_batch(state.batch_id)
    assert emulator.batches()[0].error_file_id == ""
    items = await _collect(provider, done)
    assert sorted(item.custom_id for item in items if isinstance(item, LlmResult)) == [
        "q-0",
        "q-1",
        "q-2",
    ]


async def test_bad_lines_are_quarantined_and_every_line_accounted_for(start: Start) -> None:
    faults = "malformed=0.25,duplicate=0.2,unknown_id=0.15,shuffle,line_error=0.1"
    emulator, provider = await start(faults)
    requests = _chats(60)
    state = await provider.submit_batch(requests, tag="messy")
    _finish_all(emulator, len(requests))
    done = await provider.get_batch(state.batch_id)
    items = await _collect(provider, done)
    lines = 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as raw:
        for file_id in (emulator.batches()[0].output_file_id, emulator.batches()[0].error_file_id):
            if file_id:
                async with raw.get(f"{emulator.base_url}/files/{file_id}/content") as response:
                    lines += len(
                        [line for line in (await response.read()).split(b"\n") if line.strip()]
                    )
    assert len(items) == lines
    results = [item for item in items if isinstance(item, LlmResult)]
    malformed = [item for item in items if isinstance(item, MalformedLine)]
    ids = [item.custom_id for item in results]
    assert len(ids) == len(set(ids))
    sent = {request.custom_id for request in requests}
    assert any(custom_id not in sent for custom_id in ids)
    reasons = {item.reason.split(": ", 1)[1] for item in malformed}
    assert "duplicate custom_id" in reasons
    assert reasons & {"invalid JSON", "truncated line", "invalid UTF-8", "not a JSON object"}
    failed = [item for item in results if not item.ok]
    assert failed
    assert all(item.error is not None and item.error.status in (400, 429, 500) for item in failed)


async def test_lost_create_is_reconciled_by_tag_and_the_upload_reused(start: Start) -> None:
    emulator, provider = await start("create_lost")
    before = time.time() - 1
    with pytest.raises(ProviderError) as caught:
        await provider.submit_batch(_chats(3), tag="job-7:2")
    assert caught.value.retryable
    found = await provider.find_batch("job-7:2", created_after=before)
    assert found is not None
    assert found.batch_id == emulator.batches()[0].id
    assert await provider.find_batch("job-7:3", created_after=before) is None
    with pytest.raises(ProviderError):
        await provider.submit_batch(_chats(3), tag="job-7:2", resume=True)
    assert len([f for f in emulator.files() if f.purpose == "batch"]) == 1


async def test_dropped_create_raises_a_retryable_connection_error(start: Start) -> None:
    emulator, provider = await start("create_dropped")
    with pytest.raises(ProviderError) as caught:
        await provider.submit_batch(_chats(1), tag="dropped")
    assert (caught.value.code, caught.value.retryable) == ("connection_error", True)
    assert await provider.find_batch("dropped", created_after=0) is not None
    assert len(emulator.batches()) == 1


async def test_404_right_after_create_is_batch_not_found(start: Start) -> None:
    emulator, provider = await start("batch_404=60")
    state = await provider.submit_batch(_chats(1), tag="hidden")
    with pytest.raises(BatchNotFoundError):
        await provider.get_batch(state.batch_id)
    emulator.clock.advance(61)
    assert (await provider.get_batch(state.batch_id)).batch_id == state.batch_id


async def test_token_limit_fails_the_batch_with_a_reason(start: Start) -> None:
    emulator, provider = await start("token_limit")
    state = await provider.submit_batch(_chats(2), tag="too-much")
    emulator.clock.advance(VALIDATING_S + 1)
    failed = await provider.get_batch(state.batch_id)
    assert failed.status is BatchStatus.FAILED
    assert failed.error is not None
    assert "token_limit_exceeded" in failed.error
    assert await _collect(provider, failed) == []


@pytest.mark.parametrize(
    ("faults", "code", "retryable", "wait"),
    [
        ("http_429,retry_after=7", "rate_limited", True, 7.0),
        ("http_500", "server_error", True, None),
        ("http_503", "overloaded", True, None),
    ],
)
async def test_realtime_faults_are_classified(
    start: Start, faults: str, code: str, retryable: bool, wait: float | None
) -> None:
    _, provider = await start(faults)
    result = await provider.call(_chats(1)[0])
    assert result.error is not None
    assert (result.error.code, result.error.retryable, result.error.retry_after_s) == (
        code,
        retryable,
        wait,
    )


async def test_wrong_key_is_a_permanent_auth_failure_that_never_shows_the_key(start: Start) -> None:
    wrong = "sk-proj-WRONGcanary9876543210fedcba"
    _, provider = await start(key=wrong)
    with structlog.testing.capture_logs() as logs:
        result = await provider.call(_chats(1)[0])
        with pytest.raises(ProviderError) as caught:
            await provider.submit_batch(_chats(1), tag="nope")
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("auth", False)
    assert (caught.value.code, caught.value.status) == ("auth", 401)
    for text in [result.error.message, str(caught.value), repr(provider), *map(repr, logs)]:
        assert wrong not in text
        assert wrong[:16] not in text


async def test_canary_key_stays_out_of_every_message_and_log(start: Start) -> None:
    faults = "http_429=0.5,malformed=0.3,line_error=0.3,batch_404=30,create_lost"
    emulator, provider = await start(faults)
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        for request in _chats(4):
            result = await provider.call(request)
            texts.append(repr(result))
        with pytest.raises(ProviderError) as lost:
            await provider.submit_batch(_chats(8), tag="canary")
        texts += [str(lost.value), repr(lost.value)]
        found = await provider.find_batch("canary", created_after=0)
        assert found is not None
        with pytest.raises(BatchNotFoundError) as hidden:
            await provider.get_batch(found.batch_id)
        texts += [str(hidden.value), repr(hidden.value)]
        _finish_all(emulator, 8)
        done = await provider.get_batch(found.batch_id)
        texts += [repr(item) for item in await _collect(provider, done)]
    texts += [repr(entry) for entry in logs]
    texts.append(repr(provider))
    assert logs
    for text in texts:
        assert KEY not in text
        assert KEY[:16] not in text
