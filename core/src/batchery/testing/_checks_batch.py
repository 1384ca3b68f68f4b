"""Batch lifecycle checks: each terminal state, partial results, cancel, unknown batches."""

from __future__ import annotations

import asyncio
import time

from batchery.model import BatchState, BatchStatus, Mode
from batchery.spi import BatchNotFoundError, Provider, ProviderInfo
from batchery.testing._kit import (
    Collected,
    ConformanceFailure,
    Kit,
    expect,
    expect_all_ok,
    expect_subset,
    new_tag,
    run_batch,
)
from batchery.testing._registry import check

__all__: list[str] = []

CLOCK_SKEW_S = 300.0
"""How far before the caller's clock a batch's `created_at` may be (core allows the same)."""
EXPIRE_REAL_S = 0.5
"""Real seconds the expiry check gives the provider's whole completion window."""
CANCEL_ATTEMPTS = ((100.0, 4.0), (100.0, 16.0), (20.0, 16.0))
"""(time scale, emulated seconds in progress before the cancel), tried until one catches the
batch with some but not all of its requests done."""


def _expect_unrun_retryable(collected: Collected, status: BatchStatus) -> None:
    permanent = [r.custom_id for r in collected.failed if r.error and not r.error.retryable]
    expect(
        not permanent,
        f"requests the {status.value} batch never ran are reported as permanent failures "
        f"{permanent[:5]}; mark them retryable so core resubmits them",
    )


@check("batch")
async def batch_completed(kit: Kit) -> None:
    """A batch goes from submit to `completed`, and collect returns one answer per request.

    The state from `submit_batch` carries the batch id, a `created_at` no earlier than the
    caller's clock allows, and the tag (when the provider reports tags); at completion `total`
    and `completed` match the request count (when reported), and every result names this
    provider, batch mode and the request's own custom_id.

    Troubleshooting: map the provider's own status names onto `BatchStatus` (`ended` or
    `SUCCEEDED` is `completed`), report `created_at` in Unix seconds, and have `collect` read
    every result source the API has (output and error files, inline responses).
    """
    async with kit.session() as s:
        sent = kit.requests(s.provider, 6)
        tag = new_tag()
        started = time.time()
        state = await s.provider.submit_batch(sent, tag=tag)
        expect(bool(state.batch_id), "submit_batch returned a state without a batch_id")
        expect(
            state.created_at >= started - CLOCK_SKEW_S,
            f"created_at {state.created_at} is before submit ({started:.0f}); use Unix seconds",
        )
        expect(state.tag in (None, tag), f"state.tag is {state.tag!r}, not the tag {tag!r}")
        final = await kit.wait(s.provider, state.batch_id)
        expect(final.batch_id == state.batch_id, "get_batch returned another batch's state")
        expect(
            final.status is BatchStatus.COMPLETED,
            f"a fault-free batch ended {final.status.value}",
        )
        if final.total:
            expect(final.total == len(sent), f"total is {final.total}, sent {len(sent)}")
            expect(
                final.completed == len(sent),
                f"completed is {final.completed} of {len(sent)}",
            )
        collected = await kit.collect(s.provider, final)
        expect(not collected.malformed, f"clean results read as malformed: {collected.malformed}")
        expect_all_ok(kit, s.info, collected, sent)


@check("batch")
async def batch_not_found(kit: Kit) -> None:
    """`get_batch` on an id the provider does not know raises `BatchNotFoundError`.

    The id is a real batch id with its last character changed, so it has the right shape.
    Core treats this error as transient shortly after its own create and as a lost batch later;
    any other error would stop the job.

    Troubleshooting: turn the API's 404 (or its "not found" error code) on batch reads into
    `batchery.spi.BatchNotFoundError`, and do not retry it inside the provider for long.
    """
    async with kit.session() as s:
        state = await s.provider.submit_batch(kit.requests(s.provider, 1), tag=new_tag())
        unknown = _other_id(state.batch_id)
        try:
            got = await s.provider.get_batch(unknown)
        except BatchNotFoundError:
            return
        raise ConformanceFailure(f"get_batch({unknown!r}) returned {got!r} instead of raising")


def _other_id(batch_id: str) -> str:
    last = batch_id[-1]
    if last.isdigit():
        swap = "1" if last == "0" else "0"
    elif last.isupper():
        swap = "B" if last == "A" else "A"
    else:
        swap = "b" if last == "a" else "a"
    return batch_id[:-1] + swap


@check("batch_failure")
async def batch_failed(kit: Kit) -> None:
    """A batch the provider fails (`token_limit` fault) ends `failed`, with a reason, and
    collect still runs without raising.

    Troubleshooting: map the provider's failed state to `BatchStatus.FAILED`, put its error
    message (free of the key) in `BatchState.error`, and let `collect` yield nothing rather
    than raise when a failed batch has no results.
    """
    async with kit.session("token_limit") as s:
        sent = kit.requests(s.provider, 3)
        final, collected = await run_batch(kit, s, sent)
        expect(final.status is BatchStatus.FAILED, f"the batch ended {final.status.value}")
        expect(bool(final.error), "a failed batch's state has no `error` saying why")
        expect(not collected.ok, "a failed batch yielded answers")
        expect_subset(collected, sent)


async def _expire(kit: Kit, count: int) -> tuple[BatchState, Collected, ProviderInfo]:
    """A batch stalled by `batch_expire` and run to expiry, with what collect returned."""
    async with kit.session() as probe:
        window = probe.info.limits.completion_window_s
    scale = max(kit.config.time_scale, window / EXPIRE_REAL_S)
    async with kit.session("batch_expire", time_scale=scale) as s:
        sent = kit.requests(s.provider, count)
        final, collected = await run_batch(
            kit, s, sent, timeout_s=window / scale + kit.config.timeout_s
        )
        expect(final.status is BatchStatus.EXPIRED, f"the batch ended {final.status.value}")
        expect_subset(collected, sent)
        for result in collected.results:
            kit.check_result(s.info, result, Mode.BATCH)
        return final, collected, s.info


@check("batch_expiry")
async def batch_expired(kit: Kit) -> None:
    """A batch that stalls and expires (`batch_expire`) ends `expired`; collect runs without
    raising, and the requests it never ran are not permanent failures.

    The emulator's clock runs so fast that the provider's completion window
    (`INFO.limits.completion_window_s`) passes in half a second.

    Troubleshooting: map the provider's expired state to `BatchStatus.EXPIRED`, read results
    at `expired` as at `completed`, mark unrun requests retryable (or leave them out) so core
    resubmits them, and let the emulator expire batches after the same window as
    `INFO.limits.completion_window_s`.
    """
    _, collected, _ = await _expire(kit, 8)
    _expect_unrun_retryable(collected, BatchStatus.EXPIRED)


@check("expired_results")
async def batch_expired_partial(kit: Kit) -> None:
    """An expired batch (`batch_expire` stalls it halfway) delivers the results it finished:
    at least one, and at least as many as its final `completed` count.

    An API that discards everything at expiry (Gemini) declares the capability
    `expired_results` unsupported.

    Troubleshooting: an expired batch still has output: download it as at `completed`; core
    resubmits only the requests that did not finish, so dropping the rest loses paid work.
    """
    final, collected, _ = await _expire(kit, 8)
    expect(
        len(collected.ok) >= max(1, final.completed),
        f"the expired batch says {final.completed} requests finished, but collect delivered "
        f"{len(collected.ok)} answers",
    )


async def _cancel_midway(
    kit: Kit, provider: Provider, batch_id: str, linger_s: float
) -> BatchState | None:
    """Cancel once the batch reports progress or has run `linger_s`; None if it ended first.

    Returns the last state seen before the cancel, whose counts say what was already done.
    """
    running = await kit.wait(
        provider,
        batch_id,
        lambda st: st.status.terminal or st.status is not BatchStatus.VALIDATING,
        what="a state past validation",
    )
    deadline = time.monotonic() + linger_s
    seen = running
    while not seen.status.terminal and seen.completed + seen.failed == 0:
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.005)
        seen = await provider.get_batch(batch_id)
    if seen.status.terminal:
        return None
    await provider.cancel_batch(batch_id)
    return seen


@check("batch")
async def batch_cancelled(kit: Kit) -> None:
    """A batch cancelled while in progress ends `cancelled` and delivers the results it
    finished: at least one, and at least every result it had reported done before the cancel.

    The kit cancels as soon as `completed + failed` is above zero or, for an API that reports
    no counts until the end (Anthropic), after a few emulated seconds in progress; when the
    batch finishes first, or nothing was done yet, it tries again and waits longer.

    Troubleshooting: map the provider's cancelling and cancelled states, and have `collect`
    read what a cancelled batch holds; requests it never ran must be retryable failures or
    absent.
    """
    last = "no attempt reached the cancel"
    for scale, linger in CANCEL_ATTEMPTS:
        chosen = min(scale, kit.config.time_scale)
        async with kit.session(time_scale=chosen) as s:
            sent = kit.requests(s.provider, 40)
            state = await s.provider.submit_batch(sent, tag=new_tag())
            seen = await _cancel_midway(kit, s.provider, state.batch_id, linger / chosen)
            if seen is None:
                last = "the batch finished before the cancel"
                continue
            final = await kit.wait(s.provider, state.batch_id)
            if final.status is BatchStatus.COMPLETED:
                last = "the batch completed although it was cancelled in progress"
                continue
            expect(
                final.status is BatchStatus.CANCELLED,
                f"a batch cancelled in progress ended {final.status.value}",
            )
            collected = await kit.collect(s.provider, final)
            expect_subset(collected, sent)
            expect(
                len(collected.ok) >= seen.completed,
                f"{seen.completed} requests were done before the cancel, but collect "
                f"delivered {len(collected.ok)} answers",
            )
            for result in collected.results:
                kit.check_result(s.info, result, Mode.BATCH)
            _expect_unrun_retryable(collected, final.status)
            if collected.ok:
                return
            last = "the cancelled batch delivered no answers"
    raise ConformanceFailure(f"no cancel caught the batch partly done; last: {last}")


@check("batch")
async def cancel_idempotent(kit: Kit) -> None:
    """Cancelling twice, cancelling a cancelled batch and cancelling a completed batch are
    harmless: each returns the batch's state and none raises.

    Core may cancel a batch that has just finished, or cancel again after a restart. The
    first cancel runs on a slow clock so the batch is still live; if it finishes first all
    the same, the kit tries a slower one.

    Troubleshooting: when the API refuses a cancel because the batch is already cancelling or
    over (often a 400 or 409), read the batch and return its state instead of raising.
    """
    for scale in (100.0, 10.0):
        async with kit.session(time_scale=min(scale, kit.config.time_scale)) as s:
            state = await s.provider.submit_batch(kit.requests(s.provider, 20), tag=new_tag())
            first = await s.provider.cancel_batch(state.batch_id)
            if first.status.terminal and first.status is not BatchStatus.CANCELLED:
                continue
            second = await s.provider.cancel_batch(state.batch_id)
            for said in (first, second):
                expect(
                    said.status in (BatchStatus.CANCELLING, BatchStatus.CANCELLED),
                    f"cancel_batch returned status {said.status.value}",
                )
            final = await kit.wait(s.provider, state.batch_id)
            expect(final.status is BatchStatus.CANCELLED, f"the batch ended {final.status.value}")
            again = await s.provider.cancel_batch(state.batch_id)
            expect(
                again.status is BatchStatus.CANCELLED,
                f"cancelling a cancelled batch returned {again.status.value}",
            )
            break
    else:
        raise ConformanceFailure("every batch finished before its first cancel reached it")
    async with kit.session() as s:
        done = await s.provider.submit_batch(kit.requests(s.provider, 2), tag=new_tag())
        finished = await kit.wait(s.provider, done.batch_id)
        late = await s.provider.cancel_batch(done.batch_id)
        expect(
            late.status is finished.status,
            f"cancelling a {finished.status.value} batch returned {late.status.value}",
        )


@check("all_errors")
async def batch_all_errors(kit: Kit) -> str | None:
    """A batch whose every request fails (`all_errors`) ends `completed` with no output (or
    `failed` with a reason, for an API that fails such a batch), and collect reports the
    failures (or nothing) without raising.

    Troubleshooting: treat each result source as optional: a completed batch may have no
    output file (OpenAI) or only errored entries; normalise an empty file id to "absent".
    """
    async with kit.session("all_errors") as s:
        sent = kit.requests(s.provider, 5)
        final, collected = await run_batch(kit, s, sent)
        ended = (BatchStatus.COMPLETED, BatchStatus.FAILED)
        expect(final.status in ended, f"the batch ended {final.status.value}")
        if final.status is BatchStatus.FAILED:
            expect(bool(final.error), "the failed batch's state has no `error` saying why")
        if final.total:
            expect(
                final.failed == len(sent) and final.completed == 0,
                f"counts say {final.completed} completed and {final.failed} failed of "
                f"{len(sent)} that all failed",
            )
        expect(not collected.ok, "a batch whose every request failed yielded answers")
        expect_subset(collected, sent)
        for result in collected.results:
            kit.check_result(s.info, result, Mode.BATCH)
        return "ended failed" if final.status is BatchStatus.FAILED else None
