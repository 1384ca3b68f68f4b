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
from batchery.jsonl import MAX_LINE_BYTES, RawLine, split_lines, unreadable
from batchery.model import ErrorInfo, LlmRequest, LlmResult, Mode, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine

from ._errors import ErrorDetail, classify, decode_error_body, redact
from ._translate import PROVIDER, chat_result, embedding_result, input_line
from ._wire import ChatCompletionView, EmbeddingView, LineError, OutputLine

__all__ = ["RawLine", "encode_line", "parse_line", "parse_stream", "split_lines", "write_lines"]


_ENCODER = msgspec.json.Encoder()
_OUTPUT = msgspec.json.Decoder(OutputLine)
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


def _line_error(custom_id: str, error: LineError, mode: Mode, secret: Secret | None) -> LlmResult:
    if error.code in _UNFINISHED:
        message = redact(error.message or error.code, secret)[:300]
        info = ErrorInfo(code=error.code, message=message, retryable=True)
    else:
        info = classify(None, ErrorDetail(message=error.message, code=error.code), secret=secret)
    return LlmResult.failure(custom_id, info, provider=PROVIDER, mode=mode)


def parse_line(
    raw: RawLine, kind: RequestKind, *, source: str, secret: Secret | None = None
) -> CollectedLine | None:
    """The result a result-file line holds, a `MalformedLine`, or None for a blank line."""
    if raw.too_long:
        return MalformedLine(line=raw.number, reason=f"{source} file: line too long")
    if not raw.data.strip():
        return None
    try:
        line = _OUTPUT.decode(raw.data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return unreadable(raw, source, exc)
    mode = Mode.BATCH
    if line.response is None:
        if line.error is not None:
            return _line_error(line.custom_id, line.error, mode, secret)
        reason = f"{source} file: neither response nor error"
        return MalformedLine(line=raw.number, reason=reason, custom_id=line.custom_id)
    body = line.response.body
    if line.response.status_code != 200:
        info = classify(line.response.status_code, decode_error_body(body), secret=secret)
        return LlmResult.failure(line.custom_id, info, provider=PROVIDER, mode=mode)
    result: LlmResult | None
    try:
        if kind is RequestKind.EMBEDDING:
            result = embedding_result(line.custom_id, _EMBEDDING.decode(body), mode)
        else:
            result = chat_result(line.custom_id, _CHAT.decode(body), mode)
    except (msgspec.DecodeError, UnicodeDecodeError):
        result = None
    if result is None:
        reason = f"{source} file: unreadable response body"
        return MalformedLine(line=raw.number, reason=reason, custom_id=line.custom_id)
    return result


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
    async for raw in split_lines(chunks, max_line_bytes=max_line_bytes):
        item = parse_line(raw, kind, source=source, secret=secret)
        if item is None:
            continue
        if isinstance(item, LlmResult):
            if item.custom_id in seen:
                reason = f"{source} file: duplicate custom_id"
                yield MalformedLine(line=raw.number, reason=reason, custom_id=item.custom_id)
                continue
            seen.add(item.custom_id)
        yield item
