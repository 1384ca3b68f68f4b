"""Anthropic's wire shapes as the emulator writes them, with the nullability the API uses.

Fields Anthropic sends as `null` are plain `None` defaults (never omitted), because the official
SDK and hand-written clients read them by key. Timestamps are RFC 3339 strings.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "BatchRequest",
    "CreateBody",
    "DeletedBatch",
    "ErrorBody",
    "ErrorObject",
    "ListPage",
    "MessageBatch",
    "RequestCounts",
]


class ErrorObject(msgspec.Struct, kw_only=True):
    type: str
    message: str


class ErrorBody(msgspec.Struct, kw_only=True):
    error: ErrorObject
    request_id: str | None = None
    type: Literal["error"] = "error"


class RequestCounts(msgspec.Struct, kw_only=True):
    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0


class MessageBatch(msgspec.Struct, kw_only=True):
    id: str
    processing_status: str
    request_counts: RequestCounts
    created_at: str
    expires_at: str
    type: Literal["message_batch"] = "message_batch"
    ended_at: str | None = None
    archived_at: str | None = None
    cancel_initiated_at: str | None = None
    results_url: str | None = None


class ListPage(msgspec.Struct, kw_only=True):
    data: list[MessageBatch]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class DeletedBatch(msgspec.Struct, kw_only=True):
    id: str
    type: Literal["message_batch_deleted"] = "message_batch_deleted"


class BatchRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One create `requests` element; `params` stays raw JSON until the request runs."""

    custom_id: str
    params: msgspec.Raw


class CreateBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    requests: list[BatchRequest]
