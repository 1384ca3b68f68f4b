"""Batch input as JSONL, and results files read line by line from a byte stream.

Each input line is `{"key": custom_id, "request": body}`; the same body goes into an inline
request, so a batch can be spooled once and sent either way. Results files can be large and
come from the network in arbitrary pieces, so lines are cut from a rolling buffer (a line, a
CRLF pair or a UTF-8 character may straddle two chunks) and each line is decoded on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO

import msgspec
from batchery.model import LlmRequest, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine

from ._results import Joiner, entry_result
from ._translate import DEFAULT_MODELS, request_body
from ._wire import FileLine

__all__ = ["MAX_LINE_BYTES", "RawLine", "Spooled", "encode_line", "parse_stream", "split_lines"]

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A line longer than this is reported and skipped rather than buffered without bound."""

_ENCODER = msgspec.json.Encoder()


def encode_line(request: LlmRequest) -> bytes:
    """The request's input line, newline included: what it adds to an upload, byte for byte."""
    body = msgspec.Raw(_ENCODER.encode(request_body(request)))
    return _ENCODER.encode(FileLine(request.custom_id, body)) + b"\n"


class Spooled(msgspec.Struct, kw_only=True):
    """What `write` put in the file: the batch's kind and model, its size in lines and bytes."""

    kind: RequestKind
    model: str
    count: int
    size: int

    @classmethod
    def write(cls, requests: Iterable[LlmRequest], file: IO[bytes]) -> Spooled:
        """Write every request's line to `file`.

        Raises ValueError for an empty batch, or one mixing kinds or models, which the core's
        chunker never makes: a Gemini batch names one model in its URL.
        """
        spooled: Spooled | None = None
        for request in requests:
            model = request.model or DEFAULT_MODELS.get(request.kind, "")
            if spooled is None:
                spooled = cls(kind=request.kind, model=model, count=0, size=0)
            elif request.kind is not spooled.kind or model != spooled.model:
                raise ValueError("a batch must hold requests of a single kind and model")
            line = encode_line(request)
            file.write(line)
            spooled.count += 1
            spooled.size += len(line)
        if spooled is None:
            raise ValueError("a batch needs at least one request")
        return spooled


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


async def parse_stream(
    chunks: AsyncIterable[bytes],
    joiner: Joiner,
    *,
    model: str | None = None,
    secret: Secret | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> AsyncIterator[CollectedLine]:
    """Every line of a results file, joined by key through `joiner`; blank lines are skipped."""
    source = "results file"
    async for raw in split_lines(chunks, max_line_bytes=max_line_bytes):
        if raw.too_long:
            item: CollectedLine = MalformedLine(line=raw.number, reason=f"{source}: line too long")
        elif not raw.data.strip():
            continue
        else:
            item = entry_result(raw.data, raw.number, source=source, model=model, secret=secret)
            if not raw.terminated and isinstance(item, MalformedLine):
                item = MalformedLine(
                    line=raw.number, reason=f"{source}: truncated line", custom_id=item.custom_id
                )
        yield joiner.admit(item, raw.number, source)
