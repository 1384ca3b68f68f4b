"""Batch files as JSONL: writing input lines, and reading result lines from a byte stream.

Result files can be hundreds of megabytes and come from the network in arbitrary pieces, so
lines are cut from a rolling buffer (a line, a CRLF pair or a UTF-8 character may straddle two
chunks) and each line is decoded on its own: one unreadable line becomes a `MalformedLine` and
the parse goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO

import msgspec
from batchery.jsonl import MAX_LINE_BYTES, RawLine, split_lines
from batchery.model import ErrorInfo, LlmRequest, LlmResult, Mode, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine
from batchery_openai_batch import ResponseView, ResultReader, distinct, read_line

from ._errors import ErrorDetail, classify, decode_error_body, redact
from ._translate import PROVIDER, chat_result, embedding_result, input_line
from ._wire import ChatCompletionView, EmbeddingView, LineError

__all__ = [
    "RawLine",
    "encode_line",
    "parse_line",
    "parse_stream",
    "reader",
    "split_lines",
    "write_lines",
]


_ENCODER = msgspec.json.Encoder()
_CHAT = msgspec.json.Decoder(ChatCompletionView)
_EMBEDDING = msgspec.json.Decoder(EmbeddingView)
_UNFINISHED = frozenset({"batch_expired", "batch_cancelled"})


def encode_line(request: LlmRequest) -> bytes:
    """The request's input line, newline included: what it adds to an upload, byte for byte."""
    return _ENCODER.encode(input_line(request)) + b"\n"


def write_lines(requests: Iterable[LlmRequest], file: IO[bytes]) -> tuple[RequestKind, int, int]:
    """Write every request's line to `file`; returns the shared kind, the count and the bytes.

    Raises ValueError for an empty batch or one that mixes kinds, which the core never sends.
    """
    buffer = bytearray()
    kind: RequestKind | None = None
    count = size = 0
    for request in requests:
        if kind is None:
            kind = request.kind
        elif request.kind is not kind:
            raise ValueError("a batch must hold requests of a single kind")
        _ENCODER.encode_into(input_line(request), buffer)
        buffer.extend(b"\n")
        file.write(buffer)
        count += 1
        size += len(buffer)
    if kind is None:
        raise ValueError("a batch needs at least one request")
    return kind, count, size


class _Reader:
    """OpenAI's reading of a result line's parts, for one batch's kind."""

    __slots__ = ("_kind", "_secret")

    unreadable = "unreadable response body"

    def __init__(self, kind: RequestKind, secret: Secret | None) -> None:
        self._kind = kind
        self._secret = secret

    def line_error(self, custom_id: str, error: LineError) -> LlmResult:
        if error.code in _UNFINISHED:
            message = redact(error.message or error.code, self._secret)[:300]
            info = ErrorInfo(code=error.code, message=message, retryable=True)
        else:
            detail = ErrorDetail(message=error.message, code=error.code)
            info = classify(None, detail, secret=self._secret)
        return LlmResult.failure(custom_id, info, provider=PROVIDER, mode=Mode.BATCH)

    def failed(self, custom_id: str, response: ResponseView) -> LlmResult:
        detail = decode_error_body(response.body)
        info = classify(response.status_code, detail, secret=self._secret)
        return LlmResult.failure(custom_id, info, provider=PROVIDER, mode=Mode.BATCH)

    def answer(self, custom_id: str, body: bytes) -> LlmResult | None:
        try:
            if self._kind is RequestKind.EMBEDDING:
                return embedding_result(custom_id, _EMBEDDING.decode(body), Mode.BATCH)
            return chat_result(custom_id, _CHAT.decode(body), Mode.BATCH)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return None


def reader(kind: RequestKind, secret: Secret | None = None) -> ResultReader:
    """How the result lines of a batch of `kind` are read."""
    return _Reader(kind, secret)


def parse_line(
    raw: RawLine, kind: RequestKind, *, source: str, secret: Secret | None = None
) -> CollectedLine | None:
    """The result a result-file line holds, a `MalformedLine`, or None for a blank line."""
    return read_line(raw, source=source, reader=_Reader(kind, secret))


async def parse_stream(
    chunks: AsyncIterable[bytes],
    kind: RequestKind,
    *,
    source: str,
    seen: set[str],
    secret: Secret | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> AsyncIterator[CollectedLine]:
    """Every line of one result file; a custom_id already in `seen` is reported, not repeated."""
    lines = _Reader(kind, secret)
    async for raw in split_lines(chunks, max_line_bytes=max_line_bytes):
        item = read_line(raw, source=source, reader=lines)
        if item is not None:
            yield distinct(item, raw, source, seen)
