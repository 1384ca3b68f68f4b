"""Results as OpenAI's Batch API output lines, whichever provider produced them.

A pipeline built on OpenAI batch output files reads these unchanged: one line per request
with `id`, `custom_id`, `response{status_code, request_id, body}` and `error`, the body in
the chat-completion or embeddings shape. What a Batchery result does not record (the finish
reason, the provider's own request id, the time of the answer) is filled in the same way on
every line, and `docs/results.md` says how.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec

from batchery.model import ErrorInfo, LlmResult, RequestKind

__all__ = ["FORMATS", "OPENAI_KINDS", "OpenAiOutputLine", "openai_line"]

FORMATS = ("batchery", "openai")
"""The results file formats: Batchery's own lines, or OpenAI's batch output lines."""

OPENAI_KINDS = frozenset(
    {RequestKind.CHAT, RequestKind.EMBEDDING, RequestKind.CONTEXTUAL_EMBEDDING}
)
"""Request kinds whose answers have an OpenAI shape (rerank has none)."""


class ChatMessage(msgspec.Struct, frozen=True):
    role: Literal["assistant"]
    content: str | None
    refusal: None = None


class ChatChoice(msgspec.Struct, frozen=True):
    index: int
    message: ChatMessage
    logprobs: None
    finish_reason: Literal["stop"]


class PromptTokensDetails(msgspec.Struct, frozen=True):
    cached_tokens: int


class ChatUsage(msgspec.Struct, frozen=True, omit_defaults=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None


class ChatCompletion(msgspec.Struct, frozen=True):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage


class Embedding(msgspec.Struct, frozen=True):
    object: Literal["embedding"]
    index: int
    embedding: tuple[float, ...]


class EmbeddingUsage(msgspec.Struct, frozen=True):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(msgspec.Struct, frozen=True):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class ApiError(msgspec.Struct, frozen=True):
    message: str
    type: str
    param: None
    code: str


class ErrorBody(msgspec.Struct, frozen=True):
    error: ApiError


class Response(msgspec.Struct, frozen=True):
    status_code: int
    request_id: str
    body: ChatCompletion | EmbeddingList | ErrorBody


class LineError(msgspec.Struct, frozen=True):
    code: str
    message: str


class OpenAiOutputLine(msgspec.Struct, frozen=True):
    """One line of an OpenAI batch output file; exactly one of `response`, `error` is set."""

    id: str
    custom_id: str
    response: Response | None
    error: LineError | None


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _chat(result: LlmResult, key: str, created: int, model: str) -> ChatCompletion:
    usage = result.usage
    details = PromptTokensDetails(usage.cached_tokens) if usage.cached_tokens else None
    return ChatCompletion(
        id=f"chatcmpl-{key}",
        object="chat.completion",
        created=created,
        model=model,
        choices=[ChatChoice(0, ChatMessage("assistant", result.text), None, "stop")],
        usage=ChatUsage(
            usage.input_tokens,
            usage.output_tokens,
            usage.input_tokens + usage.output_tokens,
            details,
        ),
    )


def _embeddings(
    result: LlmResult, vectors: tuple[tuple[float, ...], ...], model: str
) -> EmbeddingList:
    return EmbeddingList(
        object="list",
        data=[Embedding("embedding", i, vector) for i, vector in enumerate(vectors)],
        model=model,
        usage=EmbeddingUsage(result.usage.input_tokens, result.usage.input_tokens),
    )


def _failure(error: ErrorInfo, request_id: str) -> tuple[Response | None, LineError | None]:
    """An HTTP refusal keeps its status and OpenAI error body; anything else is a line error."""
    if error.status is None or error.status < 400:
        return None, LineError(error.code, error.message)
    kind = _ERROR_TYPES.get(error.status, "api_error" if error.status >= 500 else error.code)
    body = ErrorBody(ApiError(error.message, kind, None, error.code))
    return Response(error.status, request_id, body), None


def openai_line(
    result: LlmResult, *, run_id: str, created: int, model: str | None = None
) -> OpenAiOutputLine:
    """`result` as OpenAI writes it; ids are stable for the same run and custom_id.

    `model` (the run's) names the model when the result itself does not.
    """
    key = _digest(run_id, result.custom_id)
    line_id, request_id = f"batch_req_{key}", f"req_{key}"
    if not result.ok:
        error = result.error or ErrorInfo(code="unknown_error", message="no answer was recorded")
        response, line_error = _failure(error, request_id)
        return OpenAiOutputLine(line_id, result.custom_id, response, line_error)
    vectors = result.vectors or ((result.vector,) if result.vector is not None else None)
    named = result.model or model or ""
    body: ChatCompletion | EmbeddingList = (
        _chat(result, key, created, named)
        if vectors is None
        else _embeddings(result, vectors, named)
    )
    return OpenAiOutputLine(line_id, result.custom_id, Response(200, request_id, body), None)
