"""The client against the Voyage emulator over real loopback HTTP, from submit to collect.

The emulator runs at `time_scale=1` and its clock is jumped forward with `clock.advance`, so
each batch is caught in exactly the state a test needs without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from batchery.model import BatchState, BatchStatus, LlmRequest, LlmResult, RequestKind
from batchery.secrets import Secret
from batchery.spi import BatchNotFoundError, EmulatorOptions, MalformedLine, ProviderError
from batchery_voyage import VoyageOptions, VoyageProvider, create_session
from batchery_voyage.emulator import (
    CANCELLING_S,
    FINALIZING_S,
    REQUESTS_PER_S,
    VALIDATING_S,
    WINDOW_S,
    VoyageEmulator,
)

from ..conftest import Opened

KEY = "pa-BATCHcanary0123456789abcdef"
Start = Callable[..., Awaitable[tuple[VoyageEmulator, VoyageProvider]]]


@pytest.fixture
def start(opened: Opened) -> Start:
    async def launch(faults: str = "", **overrides: Any) -> tuple[VoyageEmulator, VoyageProvider]:
        emulator = VoyageEmulator(EmulatorOptions(faults=faults, seed=7), api_key=KEY)
        await opened.emulator(emulator)
        options = VoyageOptions(
            api_key=Secret(KEY),
            base_url=emulator.base_url,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
        )
        options = msgspec.structs.replace(options, **overrides)
        return emulator, VoyageProvider(options, opened.session(create_session(options)))

    return launch


def embeddings(count: int, prefix: str = "e", **fields: Any) -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix}-{i}",
            kind=RequestKind.EMBEDDING,
            input=f"text number {i}",
            **fields,
        )
        for i in range(count)
    ]


def contextuals(count: int, prefix: str = "c", **fields: Any) -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix}-{i}",
            kind=RequestKind.CONTEXTUAL_EMBEDDING,
            chunks=(f"doc {i} opens", f"doc {i} goes on", f"doc {i} ends"),
            **fields,
        )
        for i in range(count)
    ]


def reranks(count: int, prefix: str = "r", **fields: Any) -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix}-{i}",
            kind=RequestKind.RERANK,
            query=f"where is item {i}",
            documents=(f"item {i} is here", "nothing to see", f"the item {i} is there", "other"),
            **fields,
        )
        for i in range(count)
    ]


MAKERS = {"embedding": embeddings, "contextual": contextuals, "rerank": reranks}


def _finish_all(emulator: VoyageEmulator, count: int) -> None:
    emulator.clock.advance(VALIDATING_S + count / REQUESTS_PER_S + FINALIZING_S + 1)


async def _collect(provider: VoyageProvider, state: BatchState) -> list[LlmResult | MalformedLine]:
    return [item async for item in provider.collect(state)]


def _answer(result: LlmResult) -> object:
    return result.vector or result.vectors or result.scores


@pytest.mark.parametrize("kind", sorted(MAKERS))
async def test_each_kind_completes_and_agrees_with_realtime(start: Start, kind: str) -> None:
    emulator, provider = await start()
    requests = MAKERS[kind](5)
    before = time.time()
    state = await provider.submit_batch(requests, tag=f"job-{kind}:0")
    assert (state.status, state.tag) == (BatchStatus.VALIDATING, f"job-{kind}:0")
    assert state.created_at >= before - 1
    _finish_all(emulator, len(requests))
    done = await provider.get_batch(state.batch_id)
    assert (done.status, done.total, done.completed, done.failed) == (
        BatchStatus.COMPLETED,
        5,
        5,
        0,
    )
    items = await _collect(provider, done)
    results = {item.custom_id: item for item in items if isinstance(item, LlmResult)}
    assert len(items) == len(results) == 5
    for request in requests:
        batch = results[request.custom_id]
        realtime = await provider.call(request)
        assert batch.ok
        assert realtime.ok
        assert (batch.mode.value, realtime.mode.value) == ("batch", "realtime")
        assert _answer(batch) == _answer(realtime) is not None
        assert batch.usage.input_tokens == realtime.usage.input_tokens > 0
    sample = results[requests[0].custom_id]
    if kind == "contextual":
        assert sample.vectors is not None
        assert len(sample.vectors) == 3
    if kind == "rerank":
        assert sample.scores is not None
        assert len(sample.scores) == 4


async def test_batch_base64_asks_voyage_for_base64_lines_and_decodes_them(start: Start) -> None:
    emulator, provider = await start(batch_base64=True)
    requests = embeddings(3, input_type="document")
    state = await provider.submit_batch(requests, tag="b64")
    _finish_all(emulator, 3)
    done = await provider.get_batch(state.batch_id)
    output = next(f for f in emulator.files() if f.purpose == "batch-output")
    assert output.filename == f"batch_{state.batch_id}_output"
    storage = emulator.storage_dir
    assert storage is not None
    first = (storage / output.id).read_bytes().splitlines()[0]
    assert isinstance(msgspec.json.decode(first)["response"]["body"]["data"][0]["embedding"], str)
    items = await _collect(provider, done)
    realtime = await provider.call(requests[0])
    by_id = {item.custom_id: item for item in items if isinstance(item, LlmResult)}
    assert by_id["e-0"].vector == realtime.vector


@pytest.mark.parametrize("kind", sorted(MAKERS))
async def test_an_expired_batch_keeps_its_finished_half(start: Start, kind: str) -> None:
    emulator, provider = await start("batch_expire")
    requests = MAKERS[kind](10)
    state = await provider.submit_batch(requests, tag="exp")
    emulator.clock.advance(WINDOW_S + FINALIZING_S + 1)
    expired = await provider.get_batch(state.batch_id)
    # Voyage documents no expired status: the batch ends `completed`, finalized at its deadline,
    # with the unfinished half in the error file as `batch_expired`; it is read as expired.
    assert (expired.status, expired.completed, expired.failed) == (BatchStatus.EXPIRED, 5, 5)
    assert emulator.batches()[0].status == "completed"
    items = await _collect(provider, expired)
    ok = [item for item in items if isinstance(item, LlmResult) and item.ok]
    unfinished = [item for item in items if isinstance(item, LlmResult) and not item.ok]
    assert (len(ok), len(unfinished)) == (5, 5)
    assert {i.custom_id for i in ok} | {i.custom_id for i in unfinished} == {
        r.custom_id for r in requests
    }
    for item in unfinished:
        assert item.error is not None
        assert (item.error.code, item.error.retryable) == ("batch_expired", True)


@pytest.mark.parametrize("kind", sorted(MAKERS))
async def test_cancel_midway_keeps_partial_results_and_repeats_harmlessly(
    start: Start, kind: str
) -> None:
    emulator, provider = await start()
    requests = MAKERS[kind](10)
    state = await provider.submit_batch(requests, tag="cancel-me")
    emulator.clock.advance(VALIDATING_S + 4 / REQUESTS_PER_S)
    running = await provider.get_batch(state.batch_id)
    assert (running.status, running.completed) == (BatchStatus.IN_PROGRESS, 4)
    first = await provider.cancel_batch(state.batch_id)
    again = await provider.cancel_batch(state.batch_id)
    assert first.status is again.status is BatchStatus.CANCELLING
    emulator.clock.advance(CANCELLING_S + 1)
    cancelled = await provider.get_batch(state.batch_id)
    assert cancelled.status is BatchStatus.CANCELLED
    assert (await provider.cancel_batch(state.batch_id)).status is BatchStatus.CANCELLED
    items = await _collect(provider, cancelled)
    ok = [item for item in items if isinstance(item, LlmResult) and item.ok]
    unrun = [item for item in items if isinstance(item, LlmResult) and not item.ok]
    assert (len(ok), len(unrun)) == (4, 6)
    assert all(i.error is not None and i.error.code == "batch_cancelled" for i in unrun)
    assert all(i.error is not None and i.error.retryable for i in unrun)


async def test_cancelling_a_finished_or_finalizing_batch_returns_its_state(start: Start) -> None:
    emulator, provider = await start()
    state = await provider.submit_batch(embeddings(2), tag="late")
    emulator.clock.advance(VALIDATING_S + 2 / REQUESTS_PER_S + 1)
    assert (await provider.cancel_batch(state.batch_id)).status is BatchStatus.FINALIZING
    emulator.clock.advance(FINALIZING_S)
    assert (await provider.cancel_batch(state.batch_id)).status is BatchStatus.COMPLETED


async def test_cancelling_while_validating_leaves_every_request_unrun(start: Start) -> None:
    emulator, provider = await start()
    state = await provider.submit_batch(reranks(3), tag="early")
    assert (await provider.cancel_batch(state.batch_id)).status is BatchStatus.CANCELLING
    emulator.clock.advance(CANCELLING_S + 1)
    cancelled = await provider.get_batch(state.batch_id)
    items = await _collect(provider, cancelled)
    assert cancelled.status is BatchStatus.CANCELLED
    assert sorted(i.custom_id for i in items if isinstance(i, LlmResult) and not i.ok) == [
        "r-0",
        "r-1",
        "r-2",
    ]


async def test_a_batch_failing_validation_says_why_and_collects_nothing(start: Start) -> None:
    emulator, provider = await start("token_limit")
    state = await provider.submit_batch(contextuals(3), tag="too-big")
    emulator.clock.advance(VALIDATING_S + 1)
    failed = await provider.get_batch(state.batch_id)
    assert failed.status is BatchStatus.FAILED
    assert failed.error is not None
    assert failed.error.startswith("token_limit_exceeded: ")
    assert await _collect(provider, failed) == []
    assert (await provider.cancel_batch(state.batch_id)).status is BatchStatus.FAILED


@pytest.mark.parametrize("fault", ["create_lost", "create_dropped"])
async def test_a_lost_create_is_retryable_and_found_again_by_tag(start: Start, fault: str) -> None:
    emulator, provider = await start(fault)
    started = time.time()
    tags = {3: "lost-3", 4: "lost-4"}
    for count, tag in tags.items():
        with pytest.raises(ProviderError) as caught:
            await provider.submit_batch(embeddings(count), tag=tag)
        assert caught.value.retryable
    assert len(emulator.batches()) == 2
    found = {
        count: await provider.find_batch(tag, created_after=started - 300, request_count=count)
        for count, tag in tags.items()
    }
    assert all(state is not None for state in found.values())
    ids = {state.batch_id for state in found.values() if state is not None}
    assert ids == {batch.id for batch in emulator.batches()}
    assert found[3] is not None
    assert found[3].tag == "lost-3"
    assert await provider.find_batch("never", created_after=0, request_count=3) is None
    late = found[3].created_at + 1
    assert await provider.find_batch("lost-3", created_after=late, request_count=3) is None


async def test_find_batch_pages_back_through_older_batches(start: Start) -> None:
    emulator, provider = await start()
    started = time.time() - 300
    for i in range(60):
        await provider.submit_batch(embeddings(1, prefix=f"p{i}"), tag=f"page-{i}")
    _finish_all(emulator, 1)
    for i in range(60, 130):
        await provider.submit_batch(embeddings(1, prefix=f"p{i}"), tag=f"page-{i}")
    oldest = await provider.find_batch("page-0", created_after=started, request_count=1)
    assert oldest is not None
    assert oldest.batch_id == emulator.batches()[0].id
    assert (oldest.status, oldest.tag) == (BatchStatus.COMPLETED, "page-0")


async def test_more_than_100_batches_in_flight_is_a_retryable_429(start: Start) -> None:
    emulator, provider = await start()
    for i in range(100):
        await provider.submit_batch(embeddings(1, prefix=f"f{i}"), tag=f"flight-{i}")
    with pytest.raises(ProviderError) as caught:
        await provider.submit_batch(embeddings(1), tag="one-too-many")
    error = caught.value
    assert (error.status, error.code, error.retryable) == (429, "rate_limited", True)
    assert error.retry_after_s == 1800.0
    assert len(emulator.batches()) == 100
    _finish_all(emulator, 1)
    accepted = await provider.submit_batch(embeddings(1), tag="one-too-many")
    assert accepted.status is BatchStatus.VALIDATING


async def test_a_fresh_batch_may_be_unknown_for_a_while(start: Start) -> None:
    emulator, provider = await start("batch_404=30")
    state = await provider.submit_batch(embeddings(2), tag="hidden")
    with pytest.raises(BatchNotFoundError):
        await provider.get_batch(state.batch_id)
    emulator.clock.advance(31)
    assert (await provider.get_batch(state.batch_id)).batch_id == state.batch_id


async def test_unknown_batches_raise_not_found(start: Start) -> None:
    _, provider = await start()
    with pytest.raises(BatchNotFoundError):
        await provider.get_batch("batch-doesnotexist")
    with pytest.raises(BatchNotFoundError):
        await provider.cancel_batch("batch-doesnotexist")


async def test_line_errors_are_classified_per_request(start: Start) -> None:
    emulator, provider = await start("line_error=0.5")
    requests = embeddings(30)
    state = await provider.submit_batch(requests, tag="lines")
    _finish_all(emulator, 30)
    done = await provider.get_batch(state.batch_id)
    items = await _collect(provider, done)
    failed = [i for i in items if isinstance(i, LlmResult) and not i.ok]
    assert failed
    assert len(items) == 30
    assert done.failed == len(failed)
    for item in failed:
        assert item.error is not None
        assert item.error.status in (400, 429, 500)
        assert item.error.retryable is (item.error.status != 400)


async def test_bad_repeated_foreign_and_shuffled_lines_never_stop_a_collect(
    start: Start,
) -> None:
    emulator, provider = await start("malformed=0.3,duplicate=0.3,unknown_id=0.3,shuffle")
    requests = reranks(40)
    state = await provider.submit_batch(requests, tag="messy")
    _finish_all(emulator, 40)
    items = await _collect(provider, await provider.get_batch(state.batch_id))
    sent = {r.custom_id for r in requests}
    results = [i for i in items if isinstance(i, LlmResult)]
    malformed = [i for i in items if isinstance(i, MalformedLine)]
    known = [r for r in results if r.custom_id in sent]
    strays = [r for r in results if r.custom_id not in sent]
    assert len({r.custom_id for r in known}) == len(known)
    assert all(r.ok for r in known)
    assert strays
    reasons = {m.reason for m in malformed}
    assert "output file: duplicate custom_id" in reasons
    assert reasons - {"output file: duplicate custom_id"}
    unreadable = [m for m in malformed if m.reason != "output file: duplicate custom_id"]
    assert len(known) + len(unreadable) >= len(sent)
    assert {m.custom_id for m in unreadable if m.custom_id is not None} <= sent


async def test_an_all_error_batch_has_only_an_error_file(start: Start) -> None:
    emulator, provider = await start("all_errors")
    requests = contextuals(4)
    state = await provider.submit_batch(requests, tag="all-bad")
    _finish_all(emulator, 4)
    done = await provider.get_batch(state.batch_id)
    assert (done.status, done.completed, done.failed) == (BatchStatus.COMPLETED, 0, 4)
    assert emulator.batches()[0].output_file_id is None
    items = await _collect(provider, done)
    assert sorted(i.custom_id for i in items if isinstance(i, LlmResult) and not i.ok) == [
        r.custom_id for r in requests
    ]


async def test_an_empty_error_file_id_reads_as_absent(start: Start) -> None:
    emulator, provider = await start("empty_error_file")
    state = await provider.submit_batch(embeddings(3), tag="clean")
    _finish_all(emulator, 3)
    done = await provider.get_batch(state.batch_id)
    assert emulator.batches()[0].error_file_id == ""
    items = await _collect(provider, done)
    assert sorted(i.custom_id for i in items if isinstance(i, LlmResult) and i.ok) == [
        "e-0",
        "e-1",
        "e-2",
    ]


async def test_a_resumed_submit_reuses_the_earlier_upload(start: Start) -> None:
    emulator, provider = await start()
    requests = embeddings(3)
    await provider.submit_batch(requests, tag="again")
    await provider.submit_batch(requests, tag="again", resume=True)
    await provider.submit_batch(embeddings(4), tag="again", resume=True)
    uploads = [f for f in emulator.files() if f.purpose == "batch"]
    assert len(uploads) == 2
    batches = emulator.batches()
    assert batches[0].input_file_id == batches[1].input_file_id != batches[2].input_file_id


async def test_mixed_input_types_are_refused_before_anything_is_sent(start: Start) -> None:
    emulator, provider = await start()
    requests = [*embeddings(2, input_type="query"), *embeddings(2, "d", input_type="document")]
    with pytest.raises(ProviderError) as caught:
        await provider.submit_batch(requests, tag="mixed")
    assert (caught.value.code, caught.value.retryable) == ("invalid_request", False)
    assert "input_type" in caught.value.message
    assert emulator.files() == []


async def test_a_shared_top_k_trims_batch_scores_as_realtime_does(start: Start) -> None:
    emulator, provider = await start()
    requests = reranks(3, top_k=2)
    state = await provider.submit_batch(requests, tag="top")
    assert emulator.batches()[0].metadata == {"batchery_tag": "top", "batchery_top_k": "2"}
    _finish_all(emulator, 3)
    items = await _collect(provider, await provider.get_batch(state.batch_id))
    for item in items:
        assert isinstance(item, LlmResult)
        assert item.scores is not None
        assert sum(score > 0 for score in item.scores) == 2
        realtime = await provider.call(next(r for r in requests if r.custom_id == item.custom_id))
        assert realtime.scores == item.scores
