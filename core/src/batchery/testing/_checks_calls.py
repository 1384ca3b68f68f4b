"""Calls whose outcome is in doubt or failed: reconciling lost creates, and realtime errors."""

from __future__ import annotations

import asyncio
import time

import msgspec

from batchery.model import BatchStatus, LlmRequest, LlmResult, Mode, RequestKind
from batchery.spi import ProviderError
from batchery.testing._checks_batch import CLOCK_SKEW_S
from batchery.testing._kit import ConformanceFailure, Kit, Session, expect, new_tag
from batchery.testing._registry import check

__all__: list[str] = []

_WRITES = frozenset({"POST", "PUT", "PATCH"})
RETRY_AFTER_S = 3.0
"""The `retry-after` the rate-limit check asks for; distinct from any emulator default."""


def _writes(session: Session, mark: int) -> int:
    assert session.proxy is not None
    return sum(1 for e in session.proxy.since(mark) if e.method in _WRITES)


async def _lose_create(session: Session, requests: list[LlmRequest], tag: str) -> None:
    try:
        state = await session.provider.submit_batch(requests, tag=tag)
    except ProviderError as exc:
        expect(
            exc.retryable,
            f"a create whose reply was lost raised a permanent error ({exc.code}): core would "
            "fail the chunk without looking for the batch; raise it as retryable",
        )
        return
    raise ConformanceFailure(
        f"submit_batch returned {state!r} although the emulator lost the create reply"
    )


@check("lost_create")
async def reconcile_lost_create(kit: Kit) -> None:
    """A create that succeeded but whose reply was lost (`create_lost`) raises a retryable
    error without being repeated, and `find_batch` then finds exactly that batch.

    Three batches of 3, 4 and 5 requests are lost this way; each tag must find its own batch
    (distinct ids, matching tag and total where reported), an unused tag with an unused count
    must find nothing, and `created_after` later than every batch must find nothing. A create
    must send no more write requests than a clean submit does.

    Troubleshooting: never retry a create inside the provider; raise a retryable
    `ProviderError`. Store the tag on the batch (metadata, display name) and match it in
    `find_batch`; an API without tags must match on `request_count` and `created_after`.
    """
    async with kit.session(proxied=True) as clean:
        mark = len(clean.proxy.exchanges) if clean.proxy is not None else 0
        await clean.provider.submit_batch(kit.requests(clean.provider, 3), tag=new_tag())
        baseline = _writes(clean, mark)
    async with kit.session("create_lost", proxied=True) as s:
        assert s.proxy is not None
        started = time.time()
        tags: dict[int, str] = {}
        for count in (3, 4, 5):
            tags[count] = new_tag()
            mark = len(s.proxy.exchanges)
            await _lose_create(s, kit.requests(s.provider, count, prefix=f"c{count}"), tags[count])
            writes = _writes(s, mark)
            expect(
                writes <= baseline,
                f"submit_batch sent {writes} write requests when its create was lost, "
                f"{baseline} when it was not: a create must never be repeated",
            )
        since = started - CLOCK_SKEW_S
        found = {}
        for count, tag in tags.items():
            got = await s.provider.find_batch(tag, created_after=since, request_count=count)
            expect(got is not None, f"find_batch found no batch for the lost create of {count}")
            assert got is not None
            expect(got.tag in (None, tag), f"find_batch({tag!r}) returned tag {got.tag!r}")
            expect(got.total in (0, count), f"find_batch for {count} requests found {got.total}")
            found[count] = got
        expect(
            len({state.batch_id for state in found.values()}) == len(found),
            f"different tags found the same batch: {[s.batch_id for s in found.values()]}",
        )
        nothing = await s.provider.find_batch(new_tag(), created_after=since, request_count=6)
        expect(nothing is None, f"an unused tag found {nothing!r}")
        latest = max(state.created_at for state in found.values())
        late = await s.provider.find_batch(tags[5], created_after=latest + 1, request_count=5)
        expect(late is None, f"created_after={latest + 1} still found {late!r}")
        final = await kit.wait(s.provider, found[5].batch_id)
        expect(final.status is BatchStatus.COMPLETED, f"the found batch ended {final.status}")


@check("dropped_create")
async def reconcile_dropped_create(kit: Kit) -> None:
    """A create whose connection drops before any reply (`create_dropped`) raises a retryable
    error, and `find_batch` finds the batch it created.

    Troubleshooting: turn transport errors (disconnects, timeouts) during a create into a
    retryable `ProviderError`; never resend the create.
    """
    async with kit.session("create_dropped") as s:
        tag = new_tag()
        started = time.time()
        await _lose_create(s, kit.requests(s.provider, 3), tag)
        got = await s.provider.find_batch(
            tag, created_after=started - CLOCK_SKEW_S, request_count=3
        )
        expect(got is not None, "find_batch found no batch for the dropped create")


@check("realtime")
async def realtime_call(kit: Kit) -> None:
    """A realtime call answers with the request's own custom_id, this provider's name and
    realtime mode.

    Troubleshooting: build the `LlmResult` from the request's custom_id (the API does not echo
    it), with `provider=INFO.name` and `mode=Mode.REALTIME`.
    """
    async with kit.session() as s:
        for request in kit.requests(s.provider, 3, prefix="rt"):
            result = await s.provider.call(request)
            expect(result.ok, f"a realtime call failed: {result.error}")
            expect(result.custom_id == request.custom_id, f"got {result.custom_id!r} back")
            kit.check_result(s.info, result, Mode.REALTIME)


def _broken(request: LlmRequest) -> LlmRequest:
    """The request with the one field its kind needs emptied."""
    emptied: dict[RequestKind, dict[str, object]] = {
        RequestKind.CHAT: {"messages": ()},
        RequestKind.EMBEDDING: {"input": ""},
        RequestKind.CONTEXTUAL_EMBEDDING: {"chunks": ()},
        RequestKind.RERANK: {"documents": ()},
    }
    return msgspec.structs.replace(request, **emptied[request.kind])


@check("realtime")
async def realtime_permanent_error(kit: Kit) -> None:
    """A request that can never succeed (its kind's content missing; a kind the provider does
    not serve) comes back from `call` as a failed result marked not retryable; `call` does not
    raise.

    Troubleshooting: catch every provider error inside `call` and return
    `LlmResult.failure(...)` with an `ErrorInfo` whose `retryable` is False for invalid
    requests (400, 404, 413, 422, unsupported kind) and True only for 408, 409, 429 and 5xx.
    """
    async with kit.session() as s:
        probes = [_broken(kit.requests(s.provider, 1, prefix="bad")[0])]
        foreign = [k for k in RequestKind if k not in s.info.kinds]
        if foreign:
            other = kit.request(s.info, "other-kind", 0)
            probes.append(msgspec.structs.replace(other, kind=foreign[0]))
        for request in probes:
            try:
                result = await s.provider.call(request)
            except Exception as exc:
                raise ConformanceFailure(
                    f"call raised {type(exc).__name__} for a {request.kind.value} request it "
                    f"cannot serve: {exc}"
                ) from exc
            expect(not result.ok, f"an unservable {request.kind.value} request succeeded")
            expect(result.custom_id == request.custom_id, f"got {result.custom_id!r} back")
            expect(
                result.error is not None and not result.error.retryable,
                f"an unservable request is marked retryable: {result.error}",
            )


async def _failed_call(kit: Kit, faults: str) -> LlmResult:
    async with kit.session(faults) as s:
        request = kit.requests(s.provider, 1, prefix="rt")[0]
        async with asyncio.timeout(kit.config.timeout_s):
            result = await s.provider.call(request)
        expect(not result.ok, f"a call under fault {faults!r} succeeded")
        kit.check_result(s.info, result, Mode.REALTIME)
        return result


@check("rate_limits")
async def realtime_rate_limited(kit: Kit) -> None:
    """A 429 with `retry-after: 3` (`http_429`, `retry_after=3`) comes back as a retryable
    failure whose `retry_after_s` is 3.

    Troubleshooting: read `retry-after` (and the provider's own variants, such as
    `retry-after-ms`) into `ErrorInfo.retry_after_s`; do not sleep it inside `call`, since
    core's limiter waits for every worker at once.
    """
    result = await _failed_call(kit, f"http_429,retry_after={RETRY_AFTER_S:g}")
    error = result.error
    assert error is not None
    expect(error.retryable, f"a 429 is marked permanent: {error}")
    expect(
        error.retry_after_s is not None and abs(error.retry_after_s - RETRY_AFTER_S) < 0.5,
        f"retry-after {RETRY_AFTER_S:g} came back as retry_after_s={error.retry_after_s}",
    )


async def _expect_retryable(kit: Kit, fault: str, status: int) -> None:
    result = await _failed_call(kit, fault)
    error = result.error
    assert error is not None
    expect(error.retryable, f"HTTP {status} is marked permanent: {error}")
    expect(error.status in (None, status), f"HTTP {status} reported as status {error.status}")


@check("server_errors")
async def realtime_server_errors(kit: Kit) -> None:
    """A 500 (`http_500`) and a 503 (`http_503`) come back as retryable failures.

    Troubleshooting: classify server errors and overload as retryable, by the provider's error
    type first and the HTTP status second.
    """
    await _expect_retryable(kit, "http_500", 500)
    await _expect_retryable(kit, "http_503", 503)


@check("overloaded")
async def realtime_overloaded(kit: Kit) -> None:
    """A 529 overloaded answer (`http_529`) comes back as a retryable failure.

    Troubleshooting: treat `overloaded_error` (and status 529) as retryable.
    """
    await _expect_retryable(kit, "http_529", 529)
