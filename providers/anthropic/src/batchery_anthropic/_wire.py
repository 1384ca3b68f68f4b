"""Anthropic's wire shapes as msgspec Structs.

Request bodies are written exactly. Responses are read through small "view" Structs that decode
only what Batchery uses, each field optional where Anthropic may leave it out, so a new field
or block type never breaks a poll or a parse. Timestamps are RFC 3339 and decode to datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from batchery.model import Message

__all__ = [
    "BatchCounts",
    "BatchItem",
    "BatchList",
    "BatchView",
    "ContentBlock",
    "Envelope",
    "ErrorObject",
    "ErrorResponse",
    "MessageView",
    "MessagesParams",
    "ResultLine",
    "ResultView",
    "ToolChoice",
    "ToolSpec",
    "UsageView",
]


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str
    input_schema: dict[str, Any]


class ToolChoice(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    name: str


class MessagesParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A Messages request body: the realtime POST and each batch request's `params`."""

    model: str
    max_tokens: int
    messages: tuple[Message, ...]
    system: str | None = None
    temperature: float | None = None
    tools: tuple[ToolSpec, ...] | None = None
    tool_choice: ToolChoice | None = None


class BatchItem(msgspec.Struct, frozen=True, kw_only=True):
    """One element of a create body's `requests` array."""

    custom_id: str
    params: MessagesParams


class BatchCounts(msgspec.Struct, frozen=True):
    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired


class BatchView(msgspec.Struct, frozen=True):
    id: str
    processing_status: str
    created_at: datetime
    request_counts: BatchCounts = BatchCounts()
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    archived_at: datetime | None = None
    results_url: str | None = None


class BatchList(msgspec.Struct, frozen=True):
    data: list[BatchView]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


class ContentBlock(msgspec.Struct, frozen=True):
    """A content block; `input` keeps a tool call's JSON exactly as Anthropic wrote it."""

    type: str
    text: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()


class UsageView(msgspec.Struct, frozen=True):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class MessageView(msgspec.Struct, frozen=True):
    content: list[ContentBlock] = msgspec.field(default_factory=list)
    model: str | None = None
    stop_reason: str | None = None
    usage: UsageView | None = None


class ErrorObject(msgspec.Struct, frozen=True):
    type: str | None = None
    message: str | None = None


class ErrorResponse(msgspec.Struct, frozen=True):
    """`{"type": "error", "error": {type, message}, "request_id"}`, every field optional."""

    error: ErrorObject | None = None
    request_id: str | None = None


class Envelope(msgspec.Struct, frozen=True):
    """Any response body's `type`, to tell an error answered with a 2xx status from a Message."""

    type: str | None = None
    error: ErrorObject | None = None


class ResultView(msgspec.Struct, frozen=True):
    type: str
    message: MessageView | None = None
    error: ErrorResponse | None = None


class ResultLine(msgspec.Struct, frozen=True):
    """One line of a batch's results: `{"custom_id", "result": {"type", ...}}`."""

    custom_id: str
    result: ResultView
