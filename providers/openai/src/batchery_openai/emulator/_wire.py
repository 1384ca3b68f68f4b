"""OpenAI's wire shapes as msgspec Structs, in the field names and nullability the API uses.

Fields that OpenAI sends as `null` are plain `None` defaults (never omitted), because the
official SDK and hand-written clients read them by key.

Nullability follows the official SDK, not the OpenAPI spec: the spec types the Batch object's
`model`, `errors`, result file ids and status stamps, a file's `expires_at` and
`status_details`, and a list page's `first_id`/`last_id` as non-null, yet the API sends them as
`null` until they apply, and the SDK types them `Optional`. provider-wire-formats.md §1.4
follows the spec there and is wrong; the schemathesis test lists these as allowed exceptions.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from batchery.emulator import BatchError, BatchErrors, DeletedFile, ListPage, RequestCounts

__all__ = [
    "BatchError",
    "BatchErrors",
    "BatchObject",
    "BatchUsage",
    "CreateBatchBody",
    "DeletedFile",
    "ErrorBody",
    "ErrorDetail",
    "FileObject",
    "InputLine",
    "InputTokensDetails",
    "ListPage",
    "OutputTokensDetails",
    "RequestCounts",
]


class ErrorDetail(msgspec.Struct, kw_only=True):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct, kw_only=True):
    error: ErrorDetail


class FileObject(msgspec.Struct, kw_only=True):
    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    object: Literal["file"] = "file"
    expires_at: int | None = None
    status: str = "processed"
    status_details: str | None = None


class InputTokensDetails(msgspec.Struct, kw_only=True):
    cached_tokens: int = 0


class OutputTokensDetails(msgspec.Struct, kw_only=True):
    reasoning_tokens: int = 0


class BatchUsage(msgspec.Struct, kw_only=True):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: InputTokensDetails = msgspec.field(default_factory=InputTokensDetails)
    output_tokens_details: OutputTokensDetails = msgspec.field(default_factory=OutputTokensDetails)


class BatchObject(msgspec.Struct, kw_only=True):
    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    created_at: int
    object: Literal["batch"] = "batch"
    model: str | None = None
    errors: BatchErrors | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: RequestCounts = msgspec.field(default_factory=RequestCounts)
    usage: BatchUsage = msgspec.field(default_factory=BatchUsage)
    metadata: dict[str, str] | None = None


class CreateBatchBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None = None
    output_expires_after: dict[str, Any] | None = None


class InputLine(msgspec.Struct, kw_only=True):
    """One line of a batch input file; `body` stays a plain dict, as each endpoint reads it."""

    custom_id: str
    method: str
    url: str
    body: dict[str, Any]
