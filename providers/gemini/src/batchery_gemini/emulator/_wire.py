"""The Gemini API's resources as msgspec Structs, in the proto3 JSON the API answers with.

Proto3 JSON leaves out fields at their default, so every optional field here is omitted when
None, and int64 values (`sizeBytes`, the batch counters) are JSON strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = [
    "BATCH_TYPE",
    "EMBED_BATCH_TYPE",
    "BatchResource",
    "BatchStats",
    "FileList",
    "FileResource",
    "Operation",
    "OperationList",
    "Status",
    "int64",
    "rfc3339",
]

_TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1main."
BATCH_TYPE = _TYPE_PREFIX + "GenerateContentBatch"
EMBED_BATCH_TYPE = _TYPE_PREFIX + "EmbedContentBatch"


def rfc3339(seconds: float) -> str:
    """Unix seconds as Google writes a timestamp: UTC, `Z`, with nanosecond digits."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def int64(value: int) -> str | None:
    """An int64 as proto3 JSON writes it: a string, left out (None) when zero."""
    return str(value) if value else None


class Status(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A `google.rpc.Status`: `code` is a gRPC code here, not an HTTP status."""

    code: int
    message: str
    details: list[dict[str, Any]] | None = None


class BatchStats(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    request_count: str | None = None
    successful_request_count: str | None = None
    failed_request_count: str | None = None
    pending_request_count: str | None = None


class BatchResource(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """`GenerateContentBatch` or `EmbedContentBatch`, with the `@type` an Operation adds."""

    type: str = msgspec.field(name="@type")
    name: str
    model: str
    display_name: str | None = None
    input_config: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    create_time: str
    update_time: str
    end_time: str | None = None
    batch_stats: BatchStats = msgspec.field(default_factory=BatchStats)
    state: str
    priority: str | None = None


class Operation(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The long-running operation every batch call answers with."""

    name: str
    metadata: BatchResource
    done: bool = False
    error: Status | None = None
    response: dict[str, Any] | None = None


class OperationList(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    operations: list[Operation]
    next_page_token: str | None = None


class FileResource(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    name: str
    display_name: str | None = None
    mime_type: str
    size_bytes: str
    create_time: str
    update_time: str
    expiration_time: str
    sha256_hash: str
    uri: str
    state: str
    source: str
    download_uri: str | None = None


class FileList(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    files: list[FileResource]
    next_page_token: str | None = None
