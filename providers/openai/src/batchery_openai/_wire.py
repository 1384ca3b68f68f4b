"""OpenAI's wire shapes as msgspec Structs.

Request bodies are written exactly; response objects are read through small "view" Structs
that decode only the fields Batchery uses, each optional where OpenAI may leave it out, so a
new or missing field never breaks a poll or a parse.
"""

from __future__ import annotations

from typing import Any

import msgspec
from batchery.model import Message

__all__ = [
    "BatchList",
    "BatchView",
    "ChatBody",
    "ChatCompletionView",
    "EmbeddingBody",
    "EmbeddingView",
    "FileList",
    "FileView",
    "InputLine",
    "OutputLine",
]


class ChatBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    model: str
    messages: tuple[Message, ...]
    max_completion_tokens: int | None = None
    temperature: float | None = None
    response_format: dict[str, Any] | None = None


class EmbeddingBody(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    input: str
    encoding_format: str = "float"


class InputLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a batch input file; field order follows OpenAI's examples."""

    custom_id: str
    method: str
    url: str
    body: ChatBody | EmbeddingBody


class PromptDetails(msgspec.Struct, frozen=True):
    cached_tokens: int | None = None


class UsageView(msgspec.Struct, frozen=True):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None


class MessageView(msgspec.Struct, frozen=True):
    content: str | None = None
    refusal: str | None = None


class ChoiceView(msgspec.Struct, frozen=True):
    message: MessageView | None = None
    finish_reason: str | None = None


class ChatCompletionView(msgspec.Struct, frozen=True):
    choices: list[ChoiceView]
    model: str | None = None
    usage: UsageView | None = None


class EmbeddingItem(msgspec.Struct, frozen=True):
    embedding: list[float]
    index: int = 0


class EmbeddingView(msgspec.Struct, frozen=True):
    data: list[EmbeddingItem]
    model: str | None = None
    usage: UsageView | None = None


class ResponseView(msgspec.Struct, frozen=True):
    status_code: int
    body: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"null"))


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
    created_at: float
    endpoint: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: RequestCounts | None = None
    metadata: dict[str, Any] | None = None
    errors: BatchErrors | None = None


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
