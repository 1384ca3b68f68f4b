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
from batchery.jsonl import MAX_LINE_BYTES, RawLine, split_lines
from batchery.model import LlmRequest, LlmResult, Mode, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine
from batchery_openai_batch import LineError, ResponseView, ResultReader, distinct, read_line

from ._errors import classify, line_error, message_of
from ._results import contextual_result, embedding_result, rerank_result
from ._translate import PROVIDER, BatchParams, input_line
from ._wire import ContextualView, EmbeddingView, RerankView

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


class _Reader:
    """Voyage's reading of a result line's parts, for one batch's kind and shared `top_k`."""

    __slots__ = ("_kind", "_secret", "_top_k", "unreadable")

    def __init__(self, kind: RequestKind, secret: Secret | None, top_k: int | None) -> None:
        self._kind = kind
        self._secret = secret
        self._top_k = top_k
        self.unreadable = f"unreadable {kind.value} response body"

    def line_error(self, custom_id: str, error: LineError) -> LlmResult:
        info = line_error(error.code, error.message, self._secret)
        return LlmResult.failure(custom_id, info, provider=PROVIDER, mode=Mode.BATCH)

    def failed(self, custom_id: str, response: ResponseView) -> LlmResult:
        message = response.message or message_of(response.body)
        info = classify(response.status_code, message, secret=self._secret)
        return LlmResult.failure(custom_id, info, provider=PROVIDER, mode=Mode.BATCH)

    def answer(self, custom_id: str, body: bytes) -> LlmResult | None:
        mode = Mode.BATCH
        try:
            if self._kind is RequestKind.EMBEDDING:
                return embedding_result(custom_id, _EMBEDDING.decode(body), mode)
            if self._kind is RequestKind.CONTEXTUAL_EMBEDDING:
                return contextual_result(custom_id, _CONTEXTUAL.decode(body), mode)
            return rerank_result(custom_id, _RERANK.decode(body), mode, top_k=self._top_k)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return None


def reader(
    kind: RequestKind, secret: Secret | None = None, top_k: int | None = None
) -> ResultReader:
    """How the result lines of a batch of `kind` are read; `top_k` trims rerank scores."""
    return _Reader(kind, secret, top_k)


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
    return read_line(raw, source=source, reader=_Reader(kind, secret, top_k))


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
    lines = _Reader(kind, secret, top_k)
    async for raw in split_lines(chunks, max_line_bytes=max_line_bytes):
        item = read_line(raw, source=source, reader=lines)
        if item is not None:
            yield distinct(item, raw, source, seen)
