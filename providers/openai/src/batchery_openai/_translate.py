"""Neutral requests to OpenAI bodies, and OpenAI answers back to neutral results and states."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Unpack

from batchery.model import (
    AnswerPayload,
    BatchState,
    BatchStatus,
    ErrorInfo,
    LlmRequest,
    LlmResult,
    Mode,
    RequestKind,
    Usage,
)
from batchery.secrets import Secret
from batchery_openai_batch import OPENAI_STATUSES, TAG_KEY, read_status
from batchery_openai_batch import batch_state as shared_state

from ._errors import redact
from ._wire import (
    BatchView,
    ChatBody,
    ChatCompletionView,
    EmbeddingBody,
    EmbeddingView,
    InputLine,
    UsageView,
)

__all__ = [
    "DEFAULT_MODELS",
    "ENDPOINTS",
    "PROVIDER",
    "TAG_KEY",
    "batch_state",
    "chat_result",
    "embedding_result",
    "input_line",
    "kind_of_endpoint",
    "request_body",
]

PROVIDER = "openai"

ENDPOINTS: dict[RequestKind, str] = {
    RequestKind.CHAT: "/v1/chat/completions",
    RequestKind.EMBEDDING: "/v1/embeddings",
}
DEFAULT_MODELS: dict[RequestKind, str] = {
    RequestKind.CHAT: "gpt-4o-mini",
    RequestKind.EMBEDDING: "text-embedding-3-small",
}


def request_body(request: LlmRequest) -> ChatBody | EmbeddingBody:
    """The endpoint body for a request; raises ValueError for a kind OpenAI cannot serve."""
    if request.kind not in ENDPOINTS:
        raise ValueError(f"OpenAI does not serve {request.kind.value} requests")
    model = request.model or DEFAULT_MODELS[request.kind]
    if request.kind is RequestKind.EMBEDDING:
        return EmbeddingBody(model=model, input=request.input or "")
    response_format = None
    if request.response_schema is not None:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": request.response_schema, "strict": True},
        }
    return ChatBody(
        model=model,
        messages=request.messages,
        max_completion_tokens=request.max_tokens,
        temperature=request.temperature,
        response_format=response_format,
    )


def input_line(request: LlmRequest) -> InputLine:
    body = request_body(request)
    return InputLine(
        custom_id=request.custom_id, method="POST", url=ENDPOINTS[request.kind], body=body
    )


def kind_of_endpoint(endpoint: str | None) -> RequestKind:
    """The request kind a batch serves, from its `endpoint`; chat when OpenAI leaves it out."""
    if endpoint is not None and endpoint.rstrip("/").endswith("/embeddings"):
        return RequestKind.EMBEDDING
    return RequestKind.CHAT


def _usage(view: UsageView | None) -> Usage:
    if view is None:
        return Usage()
    details = view.prompt_tokens_details
    cached = details.cached_tokens if details is not None else None
    return Usage(view.prompt_tokens or 0, view.completion_tokens or 0, cached or 0)


def _answer(
    custom_id: str,
    view: ChatCompletionView | EmbeddingView,
    mode: Mode,
    **payload: Unpack[AnswerPayload],
) -> LlmResult:
    model, usage = view.model, _usage(view.usage)
    return LlmResult.success(
        custom_id, provider=PROVIDER, mode=mode, model=model, usage=usage, **payload
    )


def chat_result(custom_id: str, view: ChatCompletionView, mode: Mode) -> LlmResult | None:
    """The result of a 200 chat answer; None when it holds no choice to read."""
    if not view.choices:
        return None
    choice = view.choices[0]
    message = choice.message
    if message is None:
        return None
    if message.content is None:
        code = "refusal" if message.refusal else (choice.finish_reason or "no_content")
        text = message.refusal or "the model returned no content"
        error = ErrorInfo(code=code, message=text[:300], status=200)
        return LlmResult.failure(custom_id, error, provider=PROVIDER, mode=mode)
    return _answer(custom_id, view, mode, text=message.content)


def embedding_result(custom_id: str, view: EmbeddingView, mode: Mode) -> LlmResult | None:
    """The result of a 200 embeddings answer (one input per request); None when it is empty."""
    if not view.data:
        return None
    item = min(view.data, key=lambda entry: entry.index)
    return _answer(custom_id, view, mode, vector=tuple(item.embedding))


def batch_state(
    view: BatchView, secret: Secret | None, statuses: Mapping[str, BatchStatus] = OPENAI_STATUSES
) -> BatchState:
    """The neutral state of a batch object whose statuses `statuses` spells (OpenAI's)."""
    status = read_status(view.status, statuses, provider=PROVIDER)
    return shared_state(view, status, redact=lambda text: redact(text, secret))
