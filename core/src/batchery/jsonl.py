"""Cut a result stream into lines, whatever its chunking: the one reader every provider uses.

Batch results arrive as JSONL over HTTP in chunks that split lines, CRLF pairs and UTF-8
characters anywhere. A line longer than the limit is reported rather than buffered, so one
runaway line cannot take the process's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import msgspec

__all__ = ["MAX_LINE_BYTES", "RawLine", "split_lines"]

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
