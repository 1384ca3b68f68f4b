"""Result-file lines to results: the shape every dialect shares, its own reading of each part.

A line holds a `custom_id` and a response, an error object, or both. Each line is decoded on
its own, so one unreadable line becomes a `MalformedLine` and the parse goes on; what a failed
response, an error object and an answer body mean is the dialect's `ResultReader`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import msgspec
import structlog
from batchery.jsonl import RawLine, unreadable
from batchery.model import LlmResult
from batchery.spi import CollectedLine, MalformedLine

from batchery_openai_batch._api import BatchApi
from batchery_openai_batch._wire import BatchView, LineError, OutputLine, ResponseView

__all__ = ["ResultReader", "collect_lines", "distinct", "read_line"]

_log = structlog.get_logger()

_OUTPUT = msgspec.json.Decoder(OutputLine)


class ResultReader(Protocol):
    """What one dialect makes of the parts of a result line."""

    @property
    def unreadable(self) -> str:
        """The reason given for an answer body that cannot be read ("unreadable response")."""

    def line_error(self, custom_id: str, error: LineError) -> LlmResult:
        """The failure a line with an error object and no response stands for."""

    def failed(self, custom_id: str, response: ResponseView) -> LlmResult:
        """The failure a response with a status other than 200 stands for."""

    def answer(self, custom_id: str, body: bytes) -> LlmResult | None:
        """The result a 200 body holds; None when it cannot be read as what was asked for."""


def read_line(raw: RawLine, *, source: str, reader: ResultReader) -> CollectedLine | None:
    """The result a result-file line holds, a `MalformedLine`, or None for a blank line."""
    if raw.too_long:
        return MalformedLine(line=raw.number, reason=f"{source} file: line too long")
    if not raw.data.strip():
        return None
    try:
        line = _OUTPUT.decode(raw.data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return unreadable(raw, f"{source} file", exc)
    if line.response is None:
        if line.error is not None:
            return reader.line_error(line.custom_id, line.error)
        reason = f"{source} file: neither response nor error"
        return MalformedLine(line=raw.number, reason=reason, custom_id=line.custom_id)
    if line.response.status_code != 200:
        return reader.failed(line.custom_id, line.response)
    result = reader.answer(line.custom_id, line.response.body)
    if result is None:
        reason = f"{source} file: {reader.unreadable}"
        return MalformedLine(line=raw.number, reason=reason, custom_id=line.custom_id)
    return result


def distinct(item: CollectedLine, raw: RawLine, source: str, seen: set[str]) -> CollectedLine:
    """`item`, or a `MalformedLine` when its custom_id is already in `seen` (which it joins)."""
    if isinstance(item, LlmResult):
        if item.custom_id in seen:
            reason = f"{source} file: duplicate custom_id"
            return MalformedLine(line=raw.number, reason=reason, custom_id=item.custom_id)
        seen.add(item.custom_id)
    return item


async def collect_lines(
    api: BatchApi, view: BatchView, reader: ResultReader, *, provider: str
) -> AsyncIterator[CollectedLine]:
    """Both result files of `view`, line by line; a repeated custom_id is reported once."""
    seen: set[str] = set()
    malformed = 0
    async for source, raw in api.result_lines(view):
        item = read_line(raw, source=source, reader=reader)
        if item is None:
            continue
        item = distinct(item, raw, source, seen)
        malformed += isinstance(item, MalformedLine)
        yield item
    _log.info(
        f"{provider}.batch.collected", batch_id=view.id, results=len(seen), malformed=malformed
    )
