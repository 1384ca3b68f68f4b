"""Voyage's Files and Batches shapes as msgspec Structs, in the API's names and nullability.

Times are RFC 3339 strings, as Voyage sends them; fields Voyage sends as `null` are plain
`None` defaults (never omitted), since clients read them by key.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from batchery.emulator import BatchError, BatchErrors, DeletedFile, ListPage, RequestCounts

__all__ = [
    "BatchError",
    "BatchErrors",
    "BatchObject",
    "CreateBatchBody",
    "DeletedFile",
    "FileObject",
    "InputLine",
    "ListPage",
    "RequestCounts",
]


class FileObject(msgspec.Struct, kw_only=True):
    id: str
    bytes: int
    created_at: str
    filename: str
    purpose: str
    object: Literal["file"] = "file"
    expires_at: str | None = None
    status: str | None = None
    status_details: str | None = None


class BatchObject(msgspec.Struct, kw_only=True):
    """The batch as `GET /batches/{id}` answers it (provider-wire-formats.md §4.4)."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    created_at: str
    object: Literal["batch"] = "batch"
    model: str | None = None
    errors: BatchErrors | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    in_progress_at: str | None = None
    expected_completion_at: str | None = None
    finalizing_at: str | None = None
    completed_at: str | None = None
    failed_at: str | None = None
    cancelling_at: str | None = None
    cancelled_at: str | None = None
    request_counts: RequestCounts = msgspec.field(default_factory=RequestCounts)
    metadata: dict[str, str] | None = None


class CreateBatchBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /batches`; an unknown field (such as the guide's `requests_params` typo) is a 400."""

    endpoint: str
    input_file_id: str
    completion_window: str
    request_params: dict[str, Any]
    metadata: dict[str, str] | None = None


class InputLine(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One batch input line: exactly `custom_id` and `body` (§4.5)."""

    custom_id: str
    body: dict[str, Any]
