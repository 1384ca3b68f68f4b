"""Sizes and ids: `batch_size_of` against the bytes really sent, chunks at the limits, and
custom ids that come back unchanged however awkward.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations

from batchery.model import BatchStatus, LlmRequest, Mode
from batchery.service.chunking import ChunkPlanner
from batchery.service.validation import check_request
from batchery.testing._kit import Kit, Unsupported, expect, expect_all_ok, new_tag, run_batch
from batchery.testing._registry import check

__all__: list[str] = []

SYNTHETIC_MAX_REQUESTS = 7
SYNTHETIC_MAX_BYTES = 8_000
"""Limits small enough to plan several chunks from a few dozen requests in milliseconds."""
SIZE_TOLERANCE = 0.02
"""How far `batch_size_of` may stray from the bytes sent, relative (the planner keeps 5%)."""
SIZE_SLACK_BYTES = 64
"""Bytes of envelope that may vary between uploads (digits of a length, a boundary)."""
FULL_COUNT_MAX = 100_000
"""The largest count limit submitted in full; above it only the synthetic limits are tested."""
_WRITES = frozenset({"POST", "PUT", "PATCH"})

AWKWARD_IDS = (
    "plain-id",
    "x",
    "007",
    "1e3",
    "-leading-dash",
    "trailing.dot.",
    "Case",
    "case",
    "under_score",
    "with space",
    "slash/and?query=1&x#frag",
    "%2F-percent-encoded",
    'quote"and\\backslash',
    "{not: json}",
    "ключ-юникод",
    "日本語の鍵",
    "emoji-🎉",
    "a" * 64,
    "b" * 512,
)
"""Valid in core's eyes; those a provider's `check` refuses are left out and named in the note."""


@check("batch")
async def chunk_sizes(kit: Kit) -> None:
    """`batch_size_of` matches the bytes a chunk really uploads, and chunks planned by core's
    `ChunkPlanner` are accepted.

    The provider is reached through a counting proxy. Requests of mixed sizes are planned at
    small synthetic limits (7 requests, 8,000 bytes: the real byte limits are far too large to
    fill quickly), each chunk is submitted, and the bytes of every write request are counted.
    What a chunk sends beyond the sum of `batch_size_of` (the envelope: multipart headers, the
    create body) must not grow with the chunk: it may vary by 2% of the size difference plus
    64 bytes. Every chunk must then complete.

    Troubleshooting: return from `batch_size_of` exactly what the request adds to the upload:
    the encoded line with its newline (file uploads) or the encoded entry with its separator
    (inline requests), after any defaults (model) the provider fills in.
    """
    async with kit.session(proxied=True) as s:
        assert s.proxy is not None
        limits = s.info.limits
        sent = kit.requests(s.provider, 24, padding=(0, 400, 1600, 3000))
        sizes = [s.provider.batch_size_of(r) for r in sent]
        expect(all(size > 0 for size in sizes), f"batch_size_of returned {sizes}")
        planner = ChunkPlanner(
            max_requests=min(limits.max_requests_per_batch, SYNTHETIC_MAX_REQUESTS),
            max_bytes=min(limits.max_bytes_per_batch, SYNTHETIC_MAX_BYTES),
        )
        chunks: dict[int, list[tuple[LlmRequest, int]]] = defaultdict(list)
        for request, size in zip(sent, sizes, strict=True):
            chunks[planner.assign(request, size)].append((request, size))
        measured: list[tuple[int, int]] = []
        ids: list[str] = []
        for chunk in chunks.values():
            mark = len(s.proxy.exchanges)
            state = await s.provider.submit_batch([r for r, _ in chunk], tag=new_tag())
            written = sum(e.sent_bytes for e in s.proxy.since(mark) if e.method in _WRITES)
            measured.append((sum(size for _, size in chunk), written))
            ids.append(state.batch_id)
        _expect_consistent(measured)
        for batch_id in ids:
            final = await kit.wait(s.provider, batch_id)
            expect(
                final.status is BatchStatus.COMPLETED,
                f"a chunk planned within the limits ended {final.status.value}",
            )


def _expect_consistent(measured: Sequence[tuple[int, int]]) -> None:
    """Envelope bytes (sent minus estimated) must not depend on the chunk's size."""
    expect(len(measured) >= 2, "the plan produced fewer than two chunks")
    for (est_a, sent_a), (est_b, sent_b) in combinations(measured, 2):
        drift = abs((sent_a - est_a) - (sent_b - est_b))
        allowed = SIZE_TOLERANCE * abs(est_a - est_b) + SIZE_SLACK_BYTES
        expect(
            drift <= allowed,
            f"chunks estimated at {est_a} and {est_b} bytes sent {sent_a} and {sent_b}: the "
            f"part batch_size_of misses changes by {drift} bytes (allowed {allowed:.0f})",
        )
    for estimated, sent in measured:
        expect(sent > 0, "no request body reached the emulator through the base URL given")
        expect(
            estimated <= sent * (1 + SIZE_TOLERANCE) + SIZE_SLACK_BYTES,
            f"batch_size_of says {estimated} bytes but the chunk sent only {sent}",
        )


@check("batch")
async def chunk_at_count_limit(kit: Kit) -> str | None:
    """A chunk of exactly `INFO.limits.max_requests_per_batch` small requests, planned by
    `ChunkPlanner` at the provider's real limits, is accepted (it leaves validation without
    failing).

    Count limits above 100,000 are not submitted in full (the check is skipped); byte limits
    are tested at synthetic sizes by `chunk_sizes`.

    Troubleshooting: declare in `ProviderLimits` the limits the API enforces, counted the way
    it counts them (requests, or inputs for embedding APIs), and make the emulator enforce the
    same numbers.
    """
    async with kit.session() as s:
        limit = s.info.limits.max_requests_per_batch
        if limit > FULL_COUNT_MAX:
            raise Unsupported(f"a count limit of {limit:,} is too large to submit quickly")
        sent = kit.requests(s.provider, limit, prefix="n")
        planner = ChunkPlanner(max_requests=limit, max_bytes=s.info.limits.max_bytes_per_batch)
        chosen = [r for r in sent if planner.assign(r, s.provider.batch_size_of(r)) == 0]
        state = await s.provider.submit_batch(chosen, tag=new_tag())
        settled = await kit.wait(
            s.provider,
            state.batch_id,
            lambda st: st.status is not BatchStatus.VALIDATING,
            what="a state past validation",
            timeout_s=kit.config.timeout_s * 3,
        )
        expect(
            settled.status is not BatchStatus.FAILED,
            f"a chunk of {len(chosen):,} requests failed: {settled.error}",
        )
        if settled.total:
            expect(settled.total == len(chosen), f"total is {settled.total}, sent {len(chosen)}")
        if not settled.status.terminal:
            await s.provider.cancel_batch(state.batch_id)
        note = f"{len(chosen):,} requests in one chunk"
        return note if len(chosen) == limit else f"{note} (the byte limit bound first)"


@check("batch")
async def custom_id_round_trip(kit: Kit) -> str | None:
    """Awkward but valid custom ids (unicode, spaces, URL characters, quotes, 64 and 512
    characters, ids differing only in case) come back unchanged, in batch and in realtime.

    Ids the provider's `check` refuses are left out (and named in the report); the rest must
    round-trip exactly.

    Troubleshooting: never put a custom id where its characters matter (a URL path, a file
    name, an API field with a narrower alphabet) without encoding it; if the API restricts ids,
    send a derived id and map it back on collect, or refuse the id in `check`.
    """
    async with kit.session() as s:
        accepted: list[LlmRequest] = []
        refused: list[str] = []
        for index, custom_id in enumerate(AWKWARD_IDS):
            request = kit.request(s.info, custom_id, index)
            if check_request(request, s.provider) is None:
                accepted.append(request)
            else:
                refused.append(custom_id if len(custom_id) <= 16 else custom_id[:13] + "...")
        expect(len(accepted) >= 3, f"the provider refuses nearly every custom id: {refused}")
        _, collected = await run_batch(kit, s, accepted)
        expect_all_ok(kit, s.info, collected, accepted)
        if s.info.realtime:
            for request in accepted:
                result = await s.provider.call(request)
                expect(result.ok, f"realtime call for {request.custom_id!r} failed: {result.error}")
                expect(
                    result.custom_id == request.custom_id,
                    f"realtime call for {request.custom_id!r} came back as {result.custom_id!r}",
                )
                kit.check_result(s.info, result, Mode.REALTIME)
        return f"refused by check(): {', '.join(refused)}" if refused else None
