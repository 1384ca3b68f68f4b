"""The provider's batch path against the emulator: every terminal state, both inputs, faults.

The emulator runs at `time_scale=1` and its clock jumps forward with `clock.advance`, so each
batch is caught in exactly the state a test needs without waiting.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest
from batchery.model import BatchState, BatchStatus, LlmRequest, LlmResult, Message, RequestKind
from batchery.spi import BatchNotFoundError, MalformedLine, ProviderError
from batchery_gemini import GeminiProvider
from batchery_gemini.emulator import EXPIRE_S, PENDING_S, REQUESTS_PER_S, GeminiEmulator

from .conftest import LaunchGemini

SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["a", "b"]}, "score": {"type": "integer"}},
    "required": ["label", "score"],
}


def chats(count: int, prefix: str = "q", **fields: Any) -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix}-{i}", messages=(Message("user", f"question {i}"),), **fields
        )
        for i in range(count)
    ]


def embeds(count: int) -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"e-{i}", kind=RequestKind.EMBEDDING, input=f"text {i}")
        for i in range(count)
    ]


def finish(emulator: GeminiEmulator, count: int) -> None:
    emulator.clock.advance(PENDING_S + count / REQUESTS_PER_S + 1)


async def collect(provider: GeminiProvider, state: BatchState) -> list[LlmResult | MalformedLine]:
    return [item async for item in provider.collect(state)]


def results(items: list[LlmResult | MalformedLine]) -> dict[str, LlmResult]:
    return {item.custom_id: item for item in items if isinstance(item, LlmResult)}


def input_of(emulator: GeminiEmulator, batch_id: str) -> dict[str, Any]:
    operation = next(op for op in emulator.batches() if op.name == batch_id)
    return operation.metadata.input_config or {}


@pytest.mark.parametrize("inline", [True, False])
async def test_a_chat_batch_runs_to_success_and_matches_realtime(
    launch_gemini: LaunchGemini, inline: bool
) -> None:
    emulator, provider = await launch_gemini(inline_max_bytes=20_000_000 if inline else 0)
    requests = chats(10, response_schema=SCHEMA, max_tokens=50) + chats(4, prefix="t")
    before = time.time()
    state = await provider.submit_batch(requests, tag="job-1")
    assert state.batch_id.startswith("batches/")
    assert (state.status, state.tag) == (BatchStatus.VALIDATING, "job-1")
    assert state.created_at >= before - 1
    assert ("requests" in input_of(emulator, state.batch_id)) is inline
    emulator.clock.advance(PENDING_S + 5 / REQUESTS_PER_S)
    running = await provider.get_batch(state.batch_id)
    assert (running.status, running.total, running.completed) == (BatchStatus.IN_PROGRESS, 14, 5)
    finish(emulator, 14)
    done = await provider.get_batch(state.batch_id)
    assert (done.status, done.total, done.completed, done.failed) == (
        BatchStatus.COMPLETED,
        14,
        14,
        0,
    )
    items = await collect(provider, done)
    got = results(items)
    assert len(items) == len(got) == 14
    for request in requests[:10]:
        answer = msgspec.json.decode(got[request.custom_id].text or "")
        assert answer["label"] in ("a", "b")
        assert isinstance(answer["score"], int)
    for request in (requests[0], requests[12]):
        realtime = await provider.call(request)
        assert realtime.text == got[request.custom_id].text
        assert realtime.usage == got[request.custom_id].usage


async def test_the_input_goes_inline_or_as_a_file_by_size(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini(inline_max_bytes=3000)
    small = await provider.submit_batch(chats(3), tag="small")
    large = await provider.submit_batch(chats(40, prefix="l"), tag="large")
    assert "requests" in input_of(emulator, small.batch_id)
    file_name = input_of(emulator, large.batch_id)["fileName"]
    uploaded = {f.name: f for f in emulator.files()}[file_name]
    assert uploaded.display_name == "batchery-large.jsonl"
    urls = [entry.url for entry in emulator.requests()]
    assert "/upload/v1beta/files" in urls
    assert any(url.startswith("/upload/v1beta/files?upload_id=") for url in urls)


async def test_a_large_file_goes_up_in_several_chunks(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini(inline_max_bytes=0, upload_chunk_bytes=256 * 1024)
    requests = chats(300, prefix="big", max_tokens=20)
    requests = [
        msgspec.structs.replace(r, messages=(Message("user", f"{r.custom_id} " + "x" * 1500),))
        for r in requests
    ]
    state = await provider.submit_batch(requests, tag="chunks")
    sessions = [e for e in emulator.requests() if "upload_id=" in e.url]
    assert len(sessions) == 2
    assert not any(e.key_header for e in sessions)
    finish(emulator, 300)
    items = await collect(provider, await provider.get_batch(state.batch_id))
    assert sorted(results(items)) == sorted(r.custom_id for r in requests)


@pytest.mark.parametrize("inline", [True, False])
async def test_an_embedding_batch_matches_realtime_vectors(
    launch_gemini: LaunchGemini, inline: bool
) -> None:
    emulator, provider = await launch_gemini(inline_max_bytes=20_000_000 if inline else 0)
    requests = embeds(6)
    state = await provider.submit_batch(requests, tag="vectors")
    finish(emulator, 6)
    done = await provider.get_batch(state.batch_id)
    got = results(await collect(provider, done))
    assert sorted(got) == [r.custom_id for r in requests]
    realtime = await provider.call(requests[2])
    assert realtime.vector is not None
    assert len(realtime.vector) == 3072
    assert got["e-2"].vector == realtime.vector
    assert got["e-2"].vector != got["e-3"].vector
    assert got["e-2"].model == "gemini-embedding-001"


@pytest.mark.parametrize("inline", [True, False])
async def test_every_request_failing_fails_the_batch_with_its_errors(
    launch_gemini: LaunchGemini, inline: bool
) -> None:
    emulator, provider = await launch_gemini(
        "all_errors", inline_max_bytes=20_000_000 if inline else 0
    )
    state = await provider.submit_batch(chats(5), tag="doomed")
    finish(emulator, 5)
    done = await provider.get_batch(state.batch_id)
    assert (done.status, done.failed, done.completed) == (BatchStatus.FAILED, 5, 0)
    assert done.error is not None
    assert "INTERNAL" in done.error
    got = results(await collect(provider, done))
    assert len(got) == 5
    assert all(not r.ok and r.error is not None for r in got.values())


async def test_line_errors_are_classified_per_request(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini("line_error=0.5")
    state = await provider.submit_batch(chats(30), tag="some-fail")
    finish(emulator, 30)
    done = await provider.get_batch(state.batch_id)
    got = results(await collect(provider, done))
    failures = [r.error for r in got.values() if r.error is not None]
    assert done.status is BatchStatus.COMPLETED
    assert len(got) == 30
    assert done.failed == len(failures) > 0
    assert {e.code for e in failures} <= {"invalid_request", "rate_limited", "server_error"}
    assert all(e.retryable == (e.code != "invalid_request") for e in failures)


@pytest.mark.parametrize("inline", [True, False])
async def test_cancel_keeps_what_ran_and_is_idempotent(
    launch_gemini: LaunchGemini, inline: bool
) -> None:
    emulator, provider = await launch_gemini(inline_max_bytes=20_000_000 if inline else 0)
    state = await provider.submit_batch(chats(20), tag="stop")
    emulator.clock.advance(PENDING_S + 8 / REQUESTS_PER_S)
    cancelled = await provider.cancel_batch(state.batch_id)
    assert cancelled.status is BatchStatus.CANCELLED
    again = await provider.cancel_batch(state.batch_id)
    assert again.status is BatchStatus.CANCELLED
    got = results(await collect(provider, again))
    assert sorted(got) == sorted(f"q-{i}" for i in range(8))


async def test_cancelling_a_finished_batch_returns_its_state(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini()
    state = await provider.submit_batch(chats(2), tag="over")
    finish(emulator, 2)
    assert (await provider.cancel_batch(state.batch_id)).status is BatchStatus.COMPLETED
    pending = await provider.submit_batch(chats(2, prefix="p"), tag="early")
    assert (await provider.cancel_batch(pending.batch_id)).status is BatchStatus.CANCELLED
    assert await collect(provider, await provider.get_batch(pending.batch_id)) == []


@pytest.mark.parametrize("inline", [True, False])
async def test_an_expired_batch_has_no_results(launch_gemini: LaunchGemini, inline: bool) -> None:
    emulator, provider = await launch_gemini(
        "batch_expire", inline_max_bytes=20_000_000 if inline else 0
    )
    state = await provider.submit_batch(chats(10), tag="slow")
    finish(emulator, 10)
    stalled = await provider.get_batch(state.batch_id)
    assert (stalled.status, stalled.completed) == (BatchStatus.IN_PROGRESS, 5)
    emulator.clock.advance(EXPIRE_S)
    expired = await provider.get_batch(state.batch_id)
    assert expired.status is BatchStatus.EXPIRED
    assert expired.error is not None
    assert "48 hours" in expired.error
    assert await collect(provider, expired) == []


@pytest.mark.parametrize("inline", [True, False])
async def test_shuffled_results_are_joined_by_key(
    launch_gemini: LaunchGemini, inline: bool
) -> None:
    size = 20_000_000 if inline else 0
    emulator, provider = await launch_gemini("shuffle", inline_max_bytes=size)
    plain_emulator, plain = await launch_gemini(inline_max_bytes=size)
    requests = chats(25)
    shuffled_state = await provider.submit_batch(requests, tag="mixed")
    plain_state = await plain.submit_batch(requests, tag="ordered")
    finish(emulator, 25)
    finish(plain_emulator, 25)
    shuffled = await collect(provider, await provider.get_batch(shuffled_state.batch_id))
    ordered = await collect(plain, await plain.get_batch(plain_state.batch_id))
    assert [r.custom_id for r in shuffled] != [r.custom_id for r in ordered]
    by_key = results(shuffled)
    assert {k: r.text for k, r in by_key.items()} == {
        k: r.text for k, r in results(ordered).items()
    }
    for index, request in enumerate(requests):
        assert f"question {index}" in (by_key[request.custom_id].text or "")


@pytest.mark.parametrize("inline", [True, False])
async def test_malformed_duplicate_and_unknown_entries_are_reported(
    launch_gemini: LaunchGemini, inline: bool
) -> None:
    emulator, provider = await launch_gemini(
        "malformed=0.2,duplicate=0.2,unknown_id=0.2",
        inline_max_bytes=20_000_000 if inline else 0,
    )
    requests = chats(40)
    state = await provider.submit_batch(requests, tag="messy")
    finish(emulator, 40)
    items = await collect(provider, await provider.get_batch(state.batch_id))
    got = results(items)
    sent = {r.custom_id for r in requests}
    malformed = [i for i in items if isinstance(i, MalformedLine)]
    reasons = {m.reason.split(": ", 1)[1] for m in malformed}
    assert "duplicate key" in reasons
    assert reasons - {"duplicate key"}
    unknown = set(got) - sent
    assert unknown
    assert all(key.startswith("unknown-") for key in unknown)
    named = {m.custom_id for m in malformed}
    anonymous = sum(1 for m in malformed if m.custom_id is None)
    assert len(sent - got.keys() - named) <= anonymous


async def test_a_lost_create_is_found_again_by_its_display_name(
    launch_gemini: LaunchGemini,
) -> None:
    emulator, provider = await launch_gemini("create_lost")
    before = time.time()
    with pytest.raises(ProviderError) as caught:
        await provider.submit_batch(chats(3), tag="lost-1")
    assert (caught.value.retryable, caught.value.status) == (True, 500)
    found = await provider.find_batch("lost-1", created_after=before - 300, request_count=3)
    assert found is not None
    assert found.tag == "lost-1"
    assert [op.name for op in emulator.batches()] == [found.batch_id]
    assert await provider.find_batch("lost-2", created_after=before - 300, request_count=3) is None
    assert await provider.find_batch("lost-1", created_after=time.time() + 3600) is None


async def test_a_dropped_create_is_reconciled_without_a_second_batch(
    launch_gemini: LaunchGemini,
) -> None:
    emulator, provider = await launch_gemini("create_dropped", inline_max_bytes=0)
    with pytest.raises(ProviderError) as caught:
        await provider.submit_batch(chats(3), tag="dropped")
    assert caught.value.code == "connection_error"
    assert caught.value.retryable
    found = await provider.find_batch("dropped", created_after=0, request_count=3)
    assert found is not None
    with pytest.raises(ProviderError):
        await provider.submit_batch(chats(3), tag="dropped-again", resume=True)
    uploads = [f for f in emulator.files() if f.source == "UPLOADED"]
    assert len(uploads) == 2
    with pytest.raises(ProviderError):
        await provider.submit_batch(chats(3), tag="dropped-again", resume=True)
    assert len([f for f in emulator.files() if f.source == "UPLOADED"]) == 2


async def test_find_batch_pages_through_the_whole_list(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini()
    first = await provider.submit_batch(chats(1), tag="needle")
    for index in range(120):
        await provider.submit_batch(chats(1, prefix=f"h{index}"), tag=f"hay-{index}")
    found = await provider.find_batch("needle", created_after=0)
    assert found is not None
    assert found.batch_id == first.batch_id
    pages = [e for e in emulator.requests() if e.url.startswith("/v1beta/batches?")]
    assert len(pages) == 2


async def test_a_fresh_batch_may_be_unknown_for_a_while(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini("batch_404=5")
    state = await provider.submit_batch(chats(1), tag="shy")
    with pytest.raises(BatchNotFoundError) as caught:
        await provider.get_batch(state.batch_id)
    assert caught.value.status == 404
    emulator.clock.advance(6)
    assert (await provider.get_batch(state.batch_id)).status is BatchStatus.VALIDATING


async def test_unknown_and_deleted_batches_are_not_found(launch_gemini: LaunchGemini) -> None:
    _, provider = await launch_gemini()
    with pytest.raises(BatchNotFoundError):
        await provider.get_batch("batches/doesnotexist")
    with pytest.raises(BatchNotFoundError):
        await provider.cancel_batch("doesnotexist")
    state = await provider.submit_batch(chats(1), tag="short-lived")
    await provider.delete_batch(state.batch_id)
    with pytest.raises(BatchNotFoundError):
        await provider.get_batch(state.batch_id)
    with pytest.raises(BatchNotFoundError):
        await provider.delete_batch(state.batch_id)


async def test_job_state_spelling_reads_the_same(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini(job_states=True)
    state = await provider.submit_batch(chats(2), tag="job-spelling")
    assert emulator.batches()[0].metadata.state == "JOB_STATE_PENDING"
    assert state.status is BatchStatus.VALIDATING
    finish(emulator, 2)
    assert (await provider.get_batch(state.batch_id)).status is BatchStatus.COMPLETED


async def test_mixed_batches_are_refused_before_any_call(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini()
    with pytest.raises(ValueError, match="single kind"):
        await provider.submit_batch([*chats(1), *embeds(1)], tag="mixed")
    assert emulator.requests() == []
