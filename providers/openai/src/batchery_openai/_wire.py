"""OpenAI's wire shapes as msgspec Structs.

Request bodies are written exactly; response objects are read through small "view" Structs
that decode only the fields Batchery uses, each optional where OpenAI may leave it out, so a
new or missing field never breaks a poll or a parse. The Files and Batches objects are the
shared protocol's (`batchery_openai_batch`), named here too.
"""

from __future__ import annotations

from typing import Any

import msgspec
from batchery.model import Message
from batchery_openai_batch import BatchList, BatchView, FileList, FileView, LineError, OutputLine

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
    "LineError",
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
