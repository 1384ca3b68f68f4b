"""A batch's results JSONL, read from a byte stream one line at a time.

Results can be hundreds of megabytes and arrive from the network in arbitrary pieces, so lines
are cut from a rolling buffer (a line, a CRLF pair or a UTF-8 character may straddle two
chunks) and each line is decoded on its own: an unreadable line becomes a `MalformedLine`, named
by its custom_id when that can still be found, and the parse goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import msgspec
from batchery.jsonl import MAX_LINE_BYTES, RawLine, split_lines, unreadable
from batchery.model import ErrorInfo, LlmResult, Mode
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine

from ._errors import classify, redact
from ._ids import from_wire
from ._translate import PROVIDER, message_result
from ._wire import ResultLine, ResultView

__all__ = ["MAX_LINE_BYTES", "RawLine", "parse_line", "parse_stream", "split_lines"]


_LINE = msgspec.json.Decoder(ResultLine)
_UNRUN = {
    "canceled": ("batch_cancelled", "the batch was cancelled before this request ran"),
    "expired": ("batch_expired", "the batch expired before this request ran"),
}


def _named(wire_id: str | None) -> str | None:
    """The Batchery id for a wire id found in a line, or the wire id when it maps to none."""
    if not wire_id:
        return None
    return from_wire(wire_id) or wire_id


def _outcome(
    custom_id: str, result: ResultView, number: int, secret: Secret | None
) -> CollectedLine:
    mode = Mode.BATCH
    if result.type == "succeeded":
        parsed = message_result(custom_id, result.message, mode) if result.message else None
        if parsed is None:
            reason = "results: unreadable message"
            return MalformedLine(line=number, reason=reason, custom_id=custom_id)
        return parsed
    if result.type == "errored":
        detail = result.error.error if result.error is not None else None
        info = classify(None, detail, secret=secret)
        return LlmResult.failure(custom_id, info, provider=PROVIDER, mode=mode)
    if result.type in _UNRUN:
        code, message = _UNRUN[result.type]
        info = ErrorInfo(code=code, message=message, retryable=True)
        return LlmResult.failure(custom_id, info, provider=PROVIDER, mode=mode)
    reason = redact(f"results: unknown result type {result.type[:40]!r}", secret)
    return MalformedLine(line=number, reason=reason, custom_id=custom_id)


def parse_line(raw: RawLine, *, secret: Secret | None = None) -> CollectedLine | None:
    """The result one line holds, a `MalformedLine`, or None for a blank line."""
    if raw.too_long:
        return MalformedLine(line=raw.number, reason="results: line too long")
    if not raw.data.strip():
        return None
    try:
        line = _LINE.decode(raw.data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return unreadable(raw, "results", exc, named=_named)
    custom_id = from_wire(line.custom_id)
    if custom_id is None:
        reason = "results: a custom_id Batchery never sends"
        return MalformedLine(line=raw.number, reason=reason, custom_id=line.custom_id[:100])
    return _outcome(custom_id, line.result, raw.number, secret)


async def parse_stream(
    chunks: AsyncIterable[bytes],
    *,
    seen: set[str],
    secret: Secret | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> AsyncIterator[CollectedLine]:
    """Every line of a results stream; a custom_id already in `seen` is reported, not repeated."""
    async for raw in split_lines(chunks, max_line_bytes=max_line_bytes):
        item = parse_line(raw, secret=secret)
        if item is None:
            continue
        if isinstance(item, LlmResult):
            if item.custom_id in seen:
                reason = "results: duplicate custom_id"
                yield MalformedLine(line=raw.number, reason=reason, custom_id=item.custom_id)
                continue
            seen.add(item.custom_id)
        yield item
