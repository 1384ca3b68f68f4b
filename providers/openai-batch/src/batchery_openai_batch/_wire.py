"""The Files and Batches objects as msgspec "view" Structs, read alike by every dialect.

Each view decodes only the fields Batchery uses, each optional where a server may leave it out,
so a new or missing field never breaks a poll or a parse. Timestamps are Unix seconds at OpenAI
and RFC 3339 strings at Voyage and Together, so they are kept raw and read by `parse_time`.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "BatchErrorView",
    "BatchErrors",
    "BatchList",
    "BatchView",
    "FileList",
    "FileView",
    "LineError",
    "OutputLine",
    "RequestCounts",
    "ResponseView",
    "Stamp",
]

Stamp = str | float | None
"""A time as a server spells it: Unix seconds, an RFC 3339 string, or absent."""


class ResponseView(msgspec.Struct, frozen=True):
    """A result line's response: `body` on success; a failed one may carry `message` instead."""

    status_code: int
    body: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"null"))
    message: str | None = None


class LineError(msgspec.Struct, frozen=True):
    code: str | None = None
    message: str | None = None


class OutputLine(msgspec.Struct, frozen=True):
    """A line of a batch output or error file: a response, an error object, or both."""

    custom_id: str
    response: ResponseView | None = None
    error: LineError | None = None


class RequestCounts(msgspec.Struct, frozen=True):
    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchErrorView(msgspec.Struct, frozen=True):
    code: str | None = None
    message: str | None = None
    line: int | None = None


class BatchErrors(msgspec.Struct, frozen=True):
    data: list[BatchErrorView] = msgspec.field(default_factory=list)


class BatchView(msgspec.Struct, frozen=True):
    id: str
    status: str
    created_at: Stamp = None
    endpoint: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: RequestCounts | None = None
    metadata: dict[str, Any] | None = None
    errors: BatchErrors | None = None
    error: str | None = None
    finalizing_at: Stamp = None
    expected_completion_at: Stamp = None


class BatchList(msgspec.Struct, frozen=True):
    data: list[BatchView]
    has_more: bool = False
    last_id: str | None = None


class FileView(msgspec.Struct, frozen=True):
    id: str
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None
    status: str | None = None


class FileList(msgspec.Struct, frozen=True):
    data: list[FileView]
    has_more: bool = False
    last_id: str | None = None
