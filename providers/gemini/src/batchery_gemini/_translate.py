"""Neutral requests to Gemini bodies, and Gemini answers back to neutral results and states.

Usage is normalised from `usageMetadata`: input is `promptTokenCount` (which already includes
cached content) plus `toolUsePromptTokenCount`; output is `candidatesTokenCount` plus
`thoughtsTokenCount`, since thinking is billed as output; cached is `cachedContentTokenCount`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Unpack
from urllib.parse import quote

import structlog
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

from ._errors import classify
from ._wire import (
    BatchView,
    Content,
    EmbedContentRequest,
    GenerateContentRequest,
    GenerationConfig,
    OperationView,
    Part,
    ResponseView,
    UsageView,
    to_int,
)

__all__ = [
    "DEFAULT_MODELS",
    "KINDS",
    "PROVIDER",
    "batch_state",
    "batch_status",
    "display_name",
    "model_name",
    "model_path",
    "parse_time",
    "request_body",
    "request_problem",
    "response_result",
    "tag_of",
]

PROVIDER = "gemini"
KINDS = frozenset({RequestKind.CHAT, RequestKind.EMBEDDING})
DEFAULT_MODELS: dict[RequestKind, str] = {
    RequestKind.CHAT: "gemini-2.5-flash",
    RequestKind.EMBEDDING: "gemini-embedding-001",
}
_TAG_PREFIX = "batchery-"
_SYSTEM_ROLES = frozenset({"system", "developer"})
_ROLES = {"user": "user", "assistant": "model", "model": "model"}
_TASK_TYPES = frozenset(
    {
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    }
)
_INPUT_TYPES = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}
_MODEL = re.compile(r"(?:models/|tunedModels/)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_STATES: dict[str, BatchStatus] = {
    "PENDING": BatchStatus.VALIDATING,
    "QUEUED": BatchStatus.VALIDATING,
    "RUNNING": BatchStatus.IN_PROGRESS,
    "PAUSED": BatchStatus.IN_PROGRESS,
    "UPDATING": BatchStatus.IN_PROGRESS,
    "SUCCEEDED": BatchStatus.COMPLETED,
    "PARTIALLY_SUCCEEDED": BatchStatus.COMPLETED,
    "FAILED": BatchStatus.FAILED,
    "CANCELLING": BatchStatus.CANCELLING,
    "CANCELLED": BatchStatus.CANCELLED,
    "EXPIRED": BatchStatus.EXPIRED,
}

_log = structlog.get_logger(__name__)


def model_name(model: str) -> str:
    """The resource name of a model: `models/...` unless it already names a resource."""
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def model_path(model: str) -> str:
    """The model's name as a URL path, its id quoted."""
    collection, _, ident = model_name(model).partition("/")
    return f"{collection}/{quote(ident, safe='-._~')}"


def display_name(tag: str) -> str:
    return _TAG_PREFIX + tag


def tag_of(name: str | None) -> str | None:
    """The tag a Batchery display name carries; None for a batch someone else made."""
    if name is None or not name.startswith(_TAG_PREFIX):
        return None
    return name[len(_TAG_PREFIX) :] or None


def _task_type(input_type: str | None) -> str | None:
    if input_type is None:
        return None
    return _INPUT_TYPES.get(input_type.lower(), input_type.upper())


def request_problem(request: LlmRequest) -> str | None:
    """A Gemini-specific rule the request breaks, or None."""
    if request.kind not in KINDS:
        return f"Gemini does not serve {request.kind.value} requests"
    if request.model is not None and not _MODEL.fullmatch(request.model):
        return f"{request.model!r} is not a Gemini model name"
    if request.kind is RequestKind.EMBEDDING:
        if not request.input:
            return "an embedding request needs a non-empty input"
        task = _task_type(request.input_type)
        if task is not None and task not in _TASK_TYPES:
            return f"input_type {request.input_type!r} is not a Gemini embedding task type"
        return None
    for message in request.messages:
        if message.role not in _SYSTEM_ROLES and message.role not in _ROLES:
            return f"Gemini has no message role {message.role!r}"
    if not any(m.role not in _SYSTEM_ROLES for m in request.messages):
        return "a chat request needs at least one user or assistant message"
    if request.max_tokens is not None and request.max_tokens < 1:
        return "max_tokens must be at least 1"
    if request.temperature is not None and not 0.0 <= request.temperature <= 2.0:
        return "temperature must be between 0 and 2 for Gemini"
    return None


def _chat_body(request: LlmRequest) -> GenerateContentRequest:
    system = [Part(m.content) for m in request.messages if m.role in _SYSTEM_ROLES]
    contents = tuple(
        Content((Part(m.content),), role=_ROLES[m.role])
        for m in request.messages
        if m.role not in _SYSTEM_ROLES
    )
    config = GenerationConfig(
        max_output_tokens=request.max_tokens,
        temperature=request.temperature,
        response_mime_type="application/json" if request.response_schema is not None else None,
        response_json_schema=request.response_schema,
    )
    return GenerateContentRequest(
        contents=contents,
        system_instruction=Content(tuple(system)) if system else None,
        generation_config=config if config != GenerationConfig() else None,
    )


def request_body(request: LlmRequest) -> GenerateContentRequest | EmbedContentRequest:
    """The body of one request; raises ValueError for a kind Gemini cannot serve."""
    if request.kind not in KINDS:
        raise ValueError(f"Gemini does not serve {request.kind.value} requests")
    if request.kind is RequestKind.EMBEDDING:
        model = request.model or DEFAULT_MODELS[RequestKind.EMBEDDING]
        return EmbedContentRequest(
            model=model_name(model),
            content=Content((Part(request.input or ""),)),
            task_type=_task_type(request.input_type),
        )
    return _chat_body(request)


def _usage(view: UsageView | None) -> Usage:
    if view is None:
        return Usage()
    return Usage(
        (view.prompt_token_count or 0) + (view.tool_use_prompt_token_count or 0),
        (view.candidates_token_count or 0) + (view.thoughts_token_count or 0),
        view.cached_content_token_count or 0,
    )


def _answer(
    custom_id: str,
    view: ResponseView,
    mode: Mode,
    model: str | None,
    **payload: Unpack[AnswerPayload],
) -> LlmResult:
    usage = _usage(view.usage_metadata)
    return LlmResult.success(
        custom_id, provider=PROVIDER, mode=mode, model=model, usage=usage, **payload
    )


def _chat_result(
    custom_id: str, view: ResponseView, mode: Mode, model: str | None
) -> LlmResult | None:
    model = view.model_version or model
    if not view.candidates:
        reason = view.prompt_feedback.block_reason if view.prompt_feedback else None
        if reason is None:
            return None
        error = ErrorInfo(code="blocked", message=f"Gemini blocked the prompt ({reason})")
        return LlmResult.failure(custom_id, error, provider=PROVIDER, mode=mode)
    candidate = view.candidates[0]
    parts = candidate.content.parts if candidate.content is not None else []
    text = "".join(p.text for p in parts if p.text is not None and not p.thought)
    finish = candidate.finish_reason
    if not text and finish not in (None, "STOP"):
        code = "content_filter" if finish in _FILTERED else finish.lower()
        error = ErrorInfo(code=code, message=f"Gemini returned no text (finishReason {finish})")
        return LlmResult.failure(custom_id, error, provider=PROVIDER, mode=mode)
    return _answer(custom_id, view, mode, model, text=text)


def response_result(
    custom_id: str, view: ResponseView, mode: Mode, model: str | None = None
) -> LlmResult | None:
    """The result a 200 answer holds, chat or embedding by its fields; None when unreadable."""
    if view.embedding is not None:
        if not view.embedding.values:
            return None
        return _answer(custom_id, view, mode, model, vector=tuple(view.embedding.values))
    return _chat_result(custom_id, view, mode, model)


def parse_time(text: str | None) -> float | None:
    """Unix seconds from an RFC 3339 timestamp; nanoseconds are cut to microseconds."""
    if not text:
        return None
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}" if digits else head + rest
    try:
        return datetime.fromisoformat(text.replace("z", "Z")).timestamp()
    except ValueError:
        return None


def batch_status(state: str | None, *, done: bool = False, failed: bool = False) -> BatchStatus:
    """A batch state in either spelling (`BATCH_STATE_X` or `JOB_STATE_X`) as a `BatchStatus`."""
    raw = (state or "").upper()
    for prefix in ("BATCH_STATE_", "JOB_STATE_"):
        raw = raw.removeprefix(prefix)
    status = _STATES.get(raw)
    if status is not None:
        return status
    if done:
        return BatchStatus.FAILED if failed else BatchStatus.COMPLETED
    if state:
        _log.warning("gemini.batch.unknown_state", state=state[:40])
    return BatchStatus.IN_PROGRESS


def batch_state(operation: OperationView, secret: Secret | None) -> BatchState:
    """What an Operation says about its batch, in neutral terms."""
    batch = operation.metadata or BatchView()
    stats = batch.batch_stats
    status = batch_status(batch.state, done=operation.done, failed=operation.error is not None)
    error = None
    if operation.error is not None and status is not BatchStatus.COMPLETED:
        error = classify(None, operation.error, secret=secret).message
    return BatchState(
        batch_id=operation.name,
        status=status,
        created_at=parse_time(batch.create_time) or 0.0,
        total=to_int(stats.request_count) if stats is not None else 0,
        completed=to_int(stats.successful_request_count) if stats is not None else 0,
        failed=to_int(stats.failed_request_count) if stats is not None else 0,
        tag=tag_of(batch.display_name),
        error=error,
    )
