"""Batch files as JSONL: writing input lines, and reading result lines from a byte stream.

Result files can be large and arrive in arbitrary pieces, so lines are cut from a rolling
buffer (a line, a CRLF pair or a UTF-8 character may straddle two chunks) and each line is
decoded on its own: one unreadable line becomes a `MalformedLine` and the parse goes on.

Voyage writes failed requests to the error file in two forms (provider-wire-formats.md §4.5):
a response with a non-200 `status_code` and a `message` (or a `{"detail"}` body), or no
response and an `error` with a code such as `batch_expired`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO

import msgspec
from batchery.jsonl import MAX_LINE_BYTES, RawLine, split_lines, unreadable
from batchery.model import LlmRequest, LlmResult, Mode, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine

from ._errors import classify, line_error, message_of
from ._results import contextual_result, embedding_result, rerank_result
from ._translate import PROVIDER, BatchParams, input_line
from ._wire import ContextualView, EmbeddingView, OutputLine, RerankView

__all__ = ["RawLine", "encode_line", "parse_line", "parse_stream", "split_lines", "write_lines"]


_ENCODER = msgspec.json.Encoder()
_OUTPUT = msgspec.json.Decoder(OutputLine)
_EMBEDDING = msgspec.json.Decoder(EmbeddingView)
_CONTEXTUAL = msgspec.json.Decoder(ContextualView)
_RERANK = msgspec.json.Decoder(RerankView)


def encode_line(request: LlmRequest) -> bytes:
    """The request's input line, newline included: what it adds to an upload, byte for byte."""
    return _ENCODER.encode(input_line(request)) + b"\n"


def write_lines(requests: Iterable[LlmRequest], file: IO[bytes]) -> tuple[BatchParams, int]:
    """Write every request's line to `file`; returns what the lines share and the byte count.

    Raises ValueError for an empty batch or one that mixes kinds or models, which the core
    never sends.
    """
    params = BatchParams()
    buffer = bytearray()
    size = 0
    for request in requests:
        params.add(request)
        buffer.clear()
        _ENCODER.encode_into(input_line(request), buffer)
        buffer.extend(b"\n")
        file.write(buffer)
        size += len(buffer)
    if params.kind is None:
        raise ValueError("a batch needs at least one request")
    return params, size


def _answer(custom_id: str, body: bytes, kind: RequestKind, top_k: int | None) -> LlmResult | None:
    mode = Mode.BATCH
    try:
        if kind is RequestKind.EMBEDDING:
            return embedding_result(custom_id, _EMBEDDING.decode(body), mode)
        if kind is RequestKind.CONTEXTUAL_EMBEDDING:
            return contextual_result(custom_id, _CONTEXTUAL.decode(body), mode)
        return rerank_result(custom_id, _RERANK.decode(body), mode, top_k=top_k)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def parse_line(
    raw: RawLine,
    kind: RequestKind,
    *,
    source: str,
    secret: Secret | None = None,
    top_k: int | None = None,
) -> CollectedLine | None:
    """The result a result-file line holds, a `MalformedLine`, or None for a blank line.

    `top_k` trims rerank scores as the batch's requests asked (see `BatchParams`).
    """
    if raw.too_long:
        return MalformedLine(line=raw.number, reason=f"{source} file: line too long")
    if not raw.data.strip():
        return None
    try:
        line = _OUTPUT.decode(raw.data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return unreadable(raw, source, exc)
    if line.response is None:
        if line.error is not None:
            info = line_error(line.error.code, line.error.message, secret)
            return LlmResult.failure(line.custom_id, info, provider=PROVIDER, mode=Mode.BATCH)
        reason = f"{source} file: neither response nor error"
        return MalformedLine(line=raw.number, reason=reason, custom_id=line.custom_id)
    response = line.response
    if response.status_code != 200:
        message = response.message or message_of(response.body)
        info = classify(response.status_code, message, secret=secret)
        return LlmResult.failure(line.custom_id, info, provider=PROVIDER, mode=Mode.BATCH)
    result = _answer(line.custom_id, response.body, kind, top_k)
    if result is None:
        reason = f"{source} file: unreadable {kind.value} response body"
        return MalformedLine(line=raw.number, reason=reason, custom_id=line.custom_id)
    return result


async def parse_stream(
    chunks: AsyncIterable[bytes],
    kind: RequestKind,
    *,
    source: str,
    seen: set[str],
    secret: Secret | None = None,
    top_k: int | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> AsyncIterator[CollectedLine]:
    """Every line of one result file; a custom_id already in `seen` is reported, not repeated."""
    async for raw in split_lines(chunks, max_line_bytes=max_line_bytes):
        item = parse_line(raw, kind, source=source, secret=secret, top_k=top_k)
        if item is None:
            continue
        if isinstance(item, LlmResult):
            if item.custom_id in seen:
                reason = f"{source} file: duplicate custom_id"
                yield MalformedLine(line=raw.number, reason=reason, custom_id=item.custom_id)
                continue
            seen.add(item.custom_id)
        yield item
