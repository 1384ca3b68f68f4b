"""Voyage's wire shapes as msgspec Structs (provider-wire-formats.md §4).

Request bodies are written exactly, leaving out what is unset so Voyage applies its own
defaults. Responses are read through small "view" Structs that decode only the fields Batchery
uses, each optional where Voyage may leave it out, so a new or missing field never breaks a
poll or a parse. Timestamps arrive as RFC 3339 strings (older examples drop the zone), so
they are kept raw here and read by `_times`.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "BatchList",
    "BatchView",
    "ContextualBody",
    "ContextualLine",
    "ContextualView",
    "CreateBatch",
    "EmbeddingBody",
    "EmbeddingLine",
    "EmbeddingView",
    "FileList",
    "FileView",
    "InputLine",
    "OutputLine",
    "RerankBody",
    "RerankLine",
    "RerankView",
]


class EmbeddingBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """`POST /embeddings`: one text per Batchery request, sent as a one-item list."""

    model: str
    input: tuple[str, ...]
    input_type: str | None = None
    truncation: bool | None = None
    encoding_format: str | None = None


class ContextualBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """`POST /contextualizedembeddings`: one document, its chunks in order."""

    model: str
    inputs: tuple[tuple[str, ...], ...]
    input_type: str | None = None
    encoding_format: str | None = None


class RerankBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    model: str
    query: str
    documents: tuple[str, ...]
    top_k: int | None = None
    truncation: bool | None = None


class EmbeddingLine(msgspec.Struct, frozen=True):
    """A batch line's `body` for `/v1/embeddings`: only the data; parameters are batch-wide."""

    input: tuple[str, ...]


class ContextualLine(msgspec.Struct, frozen=True):
    inputs: tuple[tuple[str, ...], ...]


class RerankLine(msgspec.Struct, frozen=True):
    query: str
    documents: tuple[str, ...]


class InputLine(msgspec.Struct, frozen=True):
    """One line of a batch input file: `{"custom_id": ..., "body": {...}}`."""

    custom_id: str
    body: EmbeddingLine | ContextualLine | RerankLine


class CreateBatch(msgspec.Struct, frozen=True, kw_only=True):
    """`POST /batches`. `request_params` apply to every line; `model` is the one required key."""

    input_file_id: str
    endpoint: str
    completion_window: str
    request_params: dict[str, Any]
    metadata: dict[str, str]


class UsageView(msgspec.Struct, frozen=True):
    total_tokens: int | None = None


class EmbeddingItem(msgspec.Struct, frozen=True):
    """A vector as a list of numbers, or as base64 little-endian float32 when asked for."""

    embedding: list[float] | str
    index: int | None = None


class EmbeddingView(msgspec.Struct, frozen=True):
    data: list[EmbeddingItem]
    model: str | None = None
    usage: UsageView | None = None


class ContextualDocument(msgspec.Struct, frozen=True):
    data: list[EmbeddingItem]
    index: int | None = None


class ContextualView(msgspec.Struct, frozen=True):
    data: list[ContextualDocument]
    model: str | None = None
    usage: UsageView | None = None


class RerankItem(msgspec.Struct, frozen=True):
    index: int
    relevance_score: float


class RerankView(msgspec.Struct, frozen=True):
    data: list[RerankItem]
    model: str | None = None
    usage: UsageView | None = None


class ResponseView(msgspec.Struct, frozen=True):
    """A line's response: `body` on success; a failed one may carry `message` instead."""

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
    created_at: str | float | None = None
    endpoint: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: RequestCounts | None = None
    metadata: dict[str, Any] | None = None
    errors: BatchErrors | None = None
    finalizing_at: str | float | None = None
    expected_completion_at: str | float | None = None


class BatchList(msgspec.Struct, frozen=True):
    data: list[BatchView]
    has_more: bool = False
    last_id: str | None = None


class FileView(msgspec.Struct, frozen=True):
    id: str
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None


class FileList(msgspec.Struct, frozen=True):
    data: list[FileView]
    has_more: bool = False
    last_id: str | None = None
