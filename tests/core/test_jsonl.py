"""The shared line reader: any chunking, CRLF, unterminated and runaway lines."""

from __future__ import annotations

from collections.abc import AsyncIterator

from batchery.jsonl import RawLine, split_lines


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_lines_survive_any_split_and_lose_their_crlf() -> None:
    lines = [line async for line in split_lines(_chunks(b'{"a"', b":1}\r", b"\n{}\n", b"tail"))]

    assert lines == [
        RawLine(1, b'{"a":1}'),
        RawLine(2, b"{}"),
        RawLine(3, b"tail", terminated=False),
    ]


async def test_a_runaway_line_is_reported_not_buffered() -> None:
    stream = _chunks(b"x" * 40, b"y" * 40, b"\nok\n")

    lines = [line async for line in split_lines(stream, max_line_bytes=50)]

    assert lines == [RawLine(1, b"", too_long=True), RawLine(2, b"ok")]
