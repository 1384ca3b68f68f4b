"""Voyage's wire shapes as msgspec Structs (provider-wire-formats.md §4).

Request bodies are written exactly, leaving out what is unset so Voyage applies its own
defaults. Responses are read through small "view" Structs that decode only the fields Batchery
uses, each optional where Voyage may leave it out, so a new or missing field never breaks a
poll or a parse. The Files and Batches objects and result lines are the shared protocol's
(`batchery_openai_batch`), named here too; their timestamps are RFC 3339 strings at Voyage.
"""

from __future__ import annotations

from typing import Any

import msgspec
from batchery_openai_batch import (
    BatchList,
    BatchView,
    FileList,
    FileView,
    LineError,
    OutputLine,
    ResponseView,
)

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
    "LineError",
    "OutputLine",
    "RerankBody",
    "RerankLine",
    "RerankView",
    "ResponseView",
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
