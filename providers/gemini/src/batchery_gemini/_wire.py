"""The Gemini API's wire shapes as msgspec Structs.

Request bodies are written exactly, in the camelCase the official SDK sends. Responses are read
through small "view" Structs that decode only the fields Batchery uses, each optional, because
proto3 JSON leaves out every field at its default (a zero counter, an empty list). int64 values
such as the batch counters arrive as JSON strings, so they are typed `Int64` and read with
`to_int`.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "BatchOutputView",
    "BatchView",
    "Content",
    "CreateBatch",
    "EmbedContentRequest",
    "ErrorBody",
    "FileLine",
    "FileList",
    "FileView",
    "GenerateContentRequest",
    "GenerationConfig",
    "InlineRequest",
    "Int64",
    "OperationList",
    "OperationView",
    "Part",
    "ResponseView",
    "ResultEntry",
    "StatusView",
    "UploadedFile",
    "to_int",
]

Int64 = int | str
"""An int64 in proto3 JSON: a string on the wire, though a plain number is accepted too."""


def to_int(value: Int64 | None) -> int:
    """An int64 field as an int; absent or unreadable counts as 0."""
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


class Part(msgspec.Struct, frozen=True):
    text: str


class Content(msgspec.Struct, frozen=True, omit_defaults=True):
    parts: tuple[Part, ...]
    role: str | None = None


class GenerationConfig(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"
):
    max_output_tokens: int | None = None
    temperature: float | None = None
    response_mime_type: str | None = None
    response_json_schema: dict[str, Any] | None = None


class GenerateContentRequest(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"
):
    contents: tuple[Content, ...]
    system_instruction: Content | None = None
    generation_config: GenerationConfig | None = None


class EmbedContentRequest(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"
):
    model: str
    content: Content
    task_type: str | None = None


class FileLine(msgspec.Struct, frozen=True):
    """One line of a batch input file: the caller's key, then the request body."""

    key: str
    request: msgspec.Raw


class InlineRequest(msgspec.Struct, frozen=True):
    """One inline request; its `metadata` comes back on its response, and carries our key."""

    request: msgspec.Raw
    metadata: dict[str, str]


class InlineRequests(msgspec.Struct, frozen=True):
    requests: list[InlineRequest]


class InputConfig(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"):
    file_name: str | None = None
    requests: InlineRequests | None = None


class BatchBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    display_name: str
    input_config: InputConfig


class CreateBatch(msgspec.Struct, frozen=True):
    batch: BatchBody


class StatusView(msgspec.Struct, frozen=True):
    """A `google.rpc.Status`: `code` is the HTTP status in an error reply, else a gRPC code."""

    code: int | None = None
    message: str | None = None
    status: str | None = None
    details: list[Any] | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    error: StatusView | None = None


class BatchStatsView(msgspec.Struct, frozen=True, rename="camel"):
    request_count: Int64 | None = None
    successful_request_count: Int64 | None = None
    failed_request_count: Int64 | None = None
    pending_request_count: Int64 | None = None


class InlinedResponses(msgspec.Struct, frozen=True, rename="camel"):
    """Kept raw, entry by entry, so that one unreadable entry spoils only itself."""

    inlined_responses: list[msgspec.Raw] = msgspec.field(default_factory=list)


class BatchOutputView(msgspec.Struct, frozen=True, rename="camel"):
    responses_file: str | None = None
    inlined_responses: InlinedResponses | None = None
    inlined_embed_content_responses: InlinedResponses | None = None


class BatchView(msgspec.Struct, frozen=True, rename="camel"):
    """The batch resource (`GenerateContentBatch` or `EmbedContentBatch`) in `metadata`."""

    name: str | None = None
    model: str | None = None
    display_name: str | None = None
    state: str | None = None
    create_time: str | None = None
    update_time: str | None = None
    end_time: str | None = None
    batch_stats: BatchStatsView | None = None
    output: BatchOutputView | None = None


class OperationView(msgspec.Struct, frozen=True):
    """The long-running `Operation` every batch call answers with."""

    name: str
    metadata: BatchView | None = None
    done: bool = False
    error: StatusView | None = None
    response: BatchOutputView | None = None


class OperationList(msgspec.Struct, frozen=True, rename="camel"):
    operations: list[OperationView] = msgspec.field(default_factory=list)
    next_page_token: str | None = None


class PartView(msgspec.Struct, frozen=True):
    text: str | None = None
    thought: bool | None = None


class ContentView(msgspec.Struct, frozen=True):
    parts: list[PartView] = msgspec.field(default_factory=list)
    role: str | None = None


class CandidateView(msgspec.Struct, frozen=True, rename="camel"):
    content: ContentView | None = None
    finish_reason: str | None = None


class UsageView(msgspec.Struct, frozen=True, rename="camel"):
    prompt_token_count: int | None = None
    candidates_token_count: int | None = None
    cached_content_token_count: int | None = None
    thoughts_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None


class PromptFeedbackView(msgspec.Struct, frozen=True, rename="camel"):
    block_reason: str | None = None


class EmbeddingValues(msgspec.Struct, frozen=True):
    values: list[float] = msgspec.field(default_factory=list)


class ResponseView(msgspec.Struct, frozen=True, rename="camel"):
    """A `GenerateContentResponse` or an `EmbedContentResponse`: whichever fields are there."""

    candidates: list[CandidateView] | None = None
    usage_metadata: UsageView | None = None
    model_version: str | None = None
    prompt_feedback: PromptFeedbackView | None = None
    embedding: EmbeddingValues | None = None


def _absent() -> msgspec.Raw:
    return msgspec.Raw(b"null")


class ResultEntry(msgspec.Struct, frozen=True):
    """A results-file line (`key`) or an inline response (`metadata`): a response or a Status.

    `response` stays raw (JSON `null` when absent) so that its kind is read on its own.
    """

    key: str | None = None
    metadata: dict[str, Any] | None = None
    response: msgspec.Raw = msgspec.field(default_factory=_absent)
    error: StatusView | None = None
    status: StatusView | None = None


class FileView(msgspec.Struct, frozen=True, rename="camel"):
    name: str
    display_name: str | None = None
    size_bytes: Int64 | None = None
    state: str | None = None


class UploadedFile(msgspec.Struct, frozen=True):
    file: FileView


class FileList(msgspec.Struct, frozen=True, rename="camel"):
    files: list[FileView] = msgspec.field(default_factory=list)
    next_page_token: str | None = None
