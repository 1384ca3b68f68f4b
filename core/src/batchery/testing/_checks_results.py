"""Reading results: bad, repeated, foreign and shuffled lines, per-request errors, odd file ids.

Each fault is injected at a high rate on a batch of a few dozen requests, so it fires on some
lines and not others whatever batch id the emulator draws.
"""

from __future__ import annotations

from batchery.model import BatchStatus, Mode
from batchery.spi import BatchNotFoundError, ProviderError
from batchery.testing._kit import (
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

_RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 413, 422})


@check("malformed_lines")
async def collect_malformed(kit: Kit) -> None:
    """Unreadable result lines (`malformed`: invalid JSON, not an object, truncated, bad
    UTF-8) come back as `MalformedLine`, every readable line is still delivered once, and
    collect never aborts.

    Troubleshooting: decode each line on its own and turn any decode error into
    `MalformedLine(line=..., reason=..., custom_id=...)` (recover the id when the line's start
    is intact); never let one line's exception end the stream.
    """
    async with kit.session("malformed=0.5") as s:
        sent = kit.requests(s.provider, 24)
        final, collected = await run_batch(kit, s, sent)
        expect(final.status is BatchStatus.COMPLETED, f"the batch ended {final.status.value}")
        expect_subset(collected, sent)
        expect(bool(collected.malformed), "no MalformedLine came back for the broken lines")
        accounted = len(collected.ok) + len(collected.malformed)
        expect(
            accounted >= len(sent),
            f"{len(collected.ok)} answers and {len(collected.malformed)} malformed lines "
            f"account for fewer than the {len(sent)} requests sent",
        )
        for line in collected.malformed:
            expect(bool(line.reason), f"MalformedLine {line!r} gives no reason")


@check("duplicate_lines")
async def collect_duplicates(kit: Kit) -> None:
    """A result line written twice (`duplicate`) is delivered once; the repeat comes back as
    a `MalformedLine`.

    Troubleshooting: remember the custom_ids already yielded during one collect (across all of
    its result sources) and report a repeat as `MalformedLine(reason="duplicate custom_id")`.
    """
    async with kit.session("duplicate=0.5") as s:
        sent = kit.requests(s.provider, 24)
        _, collected = await run_batch(kit, s, sent)
        expect_all_ok(kit, s.info, collected, sent)
        expect(
            bool(collected.malformed),
            "the repeated lines were dropped silently; report them as MalformedLine",
        )


@check("unknown_ids")
async def collect_unknown_ids(kit: Kit) -> None:
    """A result line for a custom_id nobody sent (`unknown_id`) neither aborts collect nor
    displaces a real result: every sent request is delivered once.

    The stray line may come back as a result (core quarantines ids not in the batch) or as a
    `MalformedLine`.

    Troubleshooting: key results by the custom_id in each line, never by position, and do not
    stop reading at an id you did not expect.
    """
    async with kit.session("unknown_id=0.5") as s:
        sent = kit.requests(s.provider, 24)
        _, collected = await run_batch(kit, s, sent)
        ids = {r.custom_id for r in sent}
        known = [r for r in collected.results if r.custom_id in ids]
        strays = len(collected.results) - len(known) + len(collected.malformed)
        expect(strays > 0, "the lines with unknown ids vanished; yield them so core can see them")
        expect(
            len(known) == len(ids) == len({r.custom_id for r in known}),
            (f"{len(known)} results for the {len(ids)} sent ids: each must come back exactly once"),
        )
        expect(all(r.ok for r in known), "a sent request lost its answer to a stray line")


@check("shuffled_lines")
async def collect_shuffled(kit: Kit) -> None:
    """Results in an order unrelated to the input (`shuffle`) all come back, each under its
    own custom_id.

    Troubleshooting: match results to requests by custom_id only; inline results that carry
    no id need the provider's own key (e.g. a metadata field) to be matched.
    """
    async with kit.session("shuffle") as s:
        sent = kit.requests(s.provider, 30)
        _, collected = await run_batch(kit, s, sent)
        expect_all_ok(kit, s.info, collected, sent)
        expect(not collected.malformed, f"shuffled lines read as malformed: {collected.malformed}")


@check("line_errors")
async def batch_line_errors(kit: Kit) -> None:
    """Per-request errors inside a completed batch (`line_error`) come back as failed results,
    classified: a 400 is permanent; a 429 or 5xx is retryable.

    Troubleshooting: build `ErrorInfo` from each errored line with its HTTP status and the
    provider's error type; decide `retryable` from the type or status, never leave it default.
    """
    async with kit.session("line_error=0.5") as s:
        sent = kit.requests(s.provider, 24)
        final, collected = await run_batch(kit, s, sent)
        expect(final.status is BatchStatus.COMPLETED, f"the batch ended {final.status.value}")
        expect_subset(collected, sent)
        expect(bool(collected.failed), "no request came back failed")
        for result in collected.results:
            kit.check_result(s.info, result, Mode.BATCH)
            error = result.error
            if error is None or error.status is None:
                continue
            if error.status in _RETRYABLE_STATUSES:
                expect(error.retryable, f"{result.custom_id}: HTTP {error.status} not retryable")
            if error.status in _PERMANENT_STATUSES:
                expect(not error.retryable, f"{result.custom_id}: HTTP {error.status} retryable")


@check("empty_error_file")
async def collect_empty_error_file(kit: Kit) -> None:
    """A clean batch that names its error file with an empty string (`empty_error_file`) is
    collected in full, without fetching a file that is not there.

    Troubleshooting: read an empty file id as "no file".
    """
    async with kit.session("empty_error_file") as s:
        sent = kit.requests(s.provider, 4)
        _, collected = await run_batch(kit, s, sent)
        expect_all_ok(kit, s.info, collected, sent)


@check("transient_not_found")
async def batch_transient_404(kit: Kit) -> None:
    """A batch the API does not know yet just after its create (`batch_404`) is either read
    through or raises `BatchNotFoundError`, never another error; later it is found.

    Troubleshooting: raise `BatchNotFoundError` for a 404 on batch reads; core waits out its
    grace period instead of failing the job.
    """
    async with kit.session("batch_404=5", time_scale=min(kit.config.time_scale, 100.0)) as s:
        state = await s.provider.submit_batch(kit.requests(s.provider, 2), tag=new_tag())
        try:
            await s.provider.get_batch(state.batch_id)
        except BatchNotFoundError:
            pass
        except ProviderError as exc:
            raise ConformanceFailure(
                f"get_batch right after create raised {type(exc).__name__} ({exc.code}): {exc}"
            ) from exc
        found = await kit.wait(s.provider, state.batch_id, lambda st: True, what="being found")
        expect(found.batch_id == state.batch_id, "the batch was found under another id")
