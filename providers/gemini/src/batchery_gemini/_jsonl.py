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
from batchery.jsonl import MAX_LINE_BYTES, RawLine, split_lines
from batchery.model import LlmRequest, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine

from ._results import Joiner, entry_result
from ._translate import DEFAULT_MODELS, request_body
from ._wire import FileLine

__all__ = ["MAX_LINE_BYTES", "RawLine", "Spooled", "encode_line", "parse_stream", "split_lines"]


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
