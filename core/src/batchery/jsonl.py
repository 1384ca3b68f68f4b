"""Cut a result stream into lines, whatever its chunking: the one reader every provider uses.

Batch results arrive as JSONL over HTTP in chunks that split lines, CRLF pairs and UTF-8
characters anywhere. A line longer than the limit is reported rather than buffered, so one
runaway line cannot take the process's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable

import msgspec

from batchery.spi import MalformedLine

__all__ = ["MAX_LINE_BYTES", "RawLine", "split_lines", "unreadable"]

MAX_LINE_BYTES = 64 * 1024 * 1024


class RawLine(msgspec.Struct, frozen=True):
    """One line cut from a stream: 1-based number, bytes without terminator, and how it ended."""

    number: int
    data: bytes
    terminated: bool = True
    too_long: bool = False


async def split_lines(
    chunks: AsyncIterable[bytes], *, max_line_bytes: int = MAX_LINE_BYTES
) -> AsyncIterator[RawLine]:
    """Lines of a byte stream, split on LF with one trailing CR dropped, in any chunking."""
    buffer = bytearray()
    scanned = 0
    number = 0
    skipping = False
    async for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", max(start, scanned))) >= 0:
            number += 1
            if skipping:
                skipping = False
                yield RawLine(number, b"", too_long=True)
            else:
                stop = end - 1 if end > start and buffer[end - 1] == 0x0D else end
                yield RawLine(number, bytes(buffer[start:stop]))
            start = end + 1
        del buffer[:start]
        scanned = len(buffer)
        if scanned > max_line_bytes:
            skipping = True
            buffer.clear()
            scanned = 0
    if skipping:
        yield RawLine(number + 1, b"", terminated=False, too_long=True)
    elif buffer.strip():
        yield RawLine(number + 1, bytes(buffer), terminated=False)


class _IdOnly(msgspec.Struct, frozen=True):
    custom_id: str | None = None


_ID_ONLY = msgspec.json.Decoder(_IdOnly)


def _as_sent(custom_id: str | None) -> str | None:
    return custom_id


def unreadable(
    raw: RawLine,
    where: str,
    error: Exception,
    *,
    named: Callable[[str | None], str | None] = _as_sent,
) -> MalformedLine:
    """A `MalformedLine` for a result line keyed by `custom_id` that could not be read.

    It says why, after `where` ("output file: invalid JSON"): not an object, wrong shape, no
    custom_id, invalid UTF-8, truncated, invalid JSON. It keeps the line's custom_id whenever
    enough of the line survived to name it, as `named` maps it back (for a provider that sends
    ids of its own making).
    """
    data = raw.data
    if isinstance(error, msgspec.ValidationError):
        if not data.lstrip().startswith(b"{"):
            return MalformedLine(line=raw.number, reason=f"{where}: not a JSON object")
        custom_id = named(_decoded_id(data))
        reason = "unexpected line shape" if custom_id else "missing custom_id"
        return MalformedLine(line=raw.number, reason=f"{where}: {reason}", custom_id=custom_id)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        reason = "invalid UTF-8"
    else:
        cut_short = not raw.terminated or "truncated" in str(error)
        reason = "truncated line" if cut_short else "invalid JSON"
    return MalformedLine(
        line=raw.number, reason=f"{where}: {reason}", custom_id=named(_scanned_id(data))
    )


def _decoded_id(data: bytes) -> str | None:
    try:
        return _ID_ONLY.decode(data).custom_id or None
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _scanned_id(data: bytes) -> str | None:
    """The custom_id of a line that is not valid JSON, when its start is still intact."""
    marker = data.find(b'"custom_id"')
    if marker < 0:
        return None
    colon = data.find(b":", marker + 11)
    open_quote = data.find(b'"', colon + 1) if colon >= 0 else -1
    close_quote = data.find(b'"', open_quote + 1) if open_quote >= 0 else -1
    if close_quote < 0 or data[colon + 1 : open_quote].strip():
        return None
    try:
        return data[open_quote + 1 : close_quote].decode("utf-8") or None
    except UnicodeDecodeError:
        return None
