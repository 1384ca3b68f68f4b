"""Neutral requests to Messages params, and Anthropic answers back to neutral results and states.

Structured output is a forced tool call: `response_schema` becomes the input schema of one tool
and `tool_choice` names it, so the model must answer with JSON for that schema, and the
result's `text` is that JSON. This works on every Claude model and inside batches; Anthropic's
own structured-output field is not in the wire-format reference this provider follows, and
is accepted by fewer models. A tool's input must be an object, so any other schema is wrapped
as the `value` property of an object under a second tool name, and unwrapped by that name when
the answer is read: the result alone says which, with no memory of the request.

Batch status mapping (`processing_status` to `BatchStatus`):

| Anthropic | Batchery |
| --- | --- |
| `in_progress` | `in_progress` |
| `canceling` | `cancelling` |
| `ended`, after a cancel was initiated | `cancelled` |
| `ended`, with any `expired` request (only past `expires_at`) | `expired` |
| `ended`, otherwise | `completed` |

Anthropic has no batch-level failure: a bad request ends as an `errored` result.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from batchery.model import (
    BatchState,
    BatchStatus,
    ErrorInfo,
    LlmRequest,
    LlmResult,
    Message,
    Mode,
    RequestKind,
    Usage,
)

from ._ids import to_wire
from ._wire import (
    BatchItem,
    BatchView,
    ContentBlock,
    MessagesParams,
    MessageView,
    ToolChoice,
    ToolSpec,
    UsageView,
)

__all__ = [
    "DEFAULT_MODEL",
    "OBJECT_TOOL",
    "PROVIDER",
    "VALUE_TOOL",
    "batch_item",
    "batch_state",
    "batch_status",
    "content_problem",
    "message_result",
    "params",
]

PROVIDER = "anthropic"
DEFAULT_MODEL = "claude-haiku-4-5"
OBJECT_TOOL = "batchery_response"
VALUE_TOOL = "batchery_response_value"

_SYSTEM_ROLES = frozenset({"system", "developer"})
_CHAT_ROLES = frozenset({"user", "assistant"})
_DEFINITIONS = ("$defs", "definitions")
_TOOL_DESCRIPTION = "Give the answer as this tool's input; it must match the input schema."

_log = structlog.get_logger(__name__)


def content_problem(request: LlmRequest) -> str | None:
    """A rule of Anthropic's that the request breaks, said for a person; None when fine."""
    if request.kind is not RequestKind.CHAT:
        return f"Anthropic serves chat requests only, not {request.kind.value}"
    if not request.messages:
        return "a chat request needs at least one message"
    for message in request.messages:
        if message.role not in _SYSTEM_ROLES | _CHAT_ROLES:
            return (
                f"message role {message.role!r} is not one Anthropic accepts "
                "(system, developer, user or assistant)"
            )
    if all(message.role in _SYSTEM_ROLES for message in request.messages):
        return "a chat request needs a user message besides its system messages"
    if request.max_tokens is not None and request.max_tokens < 1:
        return "max_tokens must be at least 1"
    if request.temperature is not None and not 0.0 <= request.temperature <= 1.0:
        return "temperature must be between 0 and 1 for Anthropic"
    return None


def _tool_for(schema: dict[str, Any]) -> ToolSpec:
    """The forced tool for a schema; a non-object schema is wrapped as `value`."""
    if schema.get("type") == "object":
        return ToolSpec(name=OBJECT_TOOL, description=_TOOL_DESCRIPTION, input_schema=schema)
    inner = {key: value for key, value in schema.items() if key not in _DEFINITIONS}
    wrapper: dict[str, Any] = {
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
        "additionalProperties": False,
    }
    for key in _DEFINITIONS:
        if key in schema:
            wrapper[key] = schema[key]
    return ToolSpec(name=VALUE_TOOL, description=_TOOL_DESCRIPTION, input_schema=wrapper)


def params(request: LlmRequest, *, default_max_tokens: int) -> MessagesParams:
    """The Messages body for a chat request: system messages are joined into `system`."""
    system = [m.content for m in request.messages if m.role in _SYSTEM_ROLES]
    conversation = tuple(
        Message(m.role, m.content) for m in request.messages if m.role not in _SYSTEM_ROLES
    )
    tools = choice = None
    if request.response_schema is not None:
        tool = _tool_for(request.response_schema)
        tools, choice = (tool,), ToolChoice(type="tool", name=tool.name)
    return MessagesParams(
        model=request.model or DEFAULT_MODEL,
        max_tokens=request.max_tokens or default_max_tokens,
        messages=conversation,
        system="\n\n".join(system) if system else None,
        temperature=request.temperature,
        tools=tools,
        tool_choice=choice,
    )


def batch_item(request: LlmRequest, *, default_max_tokens: int) -> BatchItem:
    """One `requests` element, under the request's wire id (see `_ids`)."""
    return BatchItem(
        custom_id=to_wire(request.custom_id),
        params=params(request, default_max_tokens=default_max_tokens),
    )


def _usage(view: UsageView | None) -> Usage:
    """Input counts every prompt token (uncached, cache writes, cache reads); reads are cached."""
    if view is None:
        return Usage()
    read = view.cache_read_input_tokens or 0
    written = view.cache_creation_input_tokens or 0
    return Usage((view.input_tokens or 0) + written + read, view.output_tokens or 0, read)


def _tool_json(block: ContentBlock) -> str | None:
    """A forced tool call's input as compact JSON text, unwrapped for the `value` tool."""
    try:
        value = msgspec.json.decode(block.input)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    if block.name == VALUE_TOOL:
        if "value" not in value:
            return None
        value = value["value"]
    return msgspec.json.encode(value).decode()


def _failure(custom_id: str, code: str, message: str, mode: Mode) -> LlmResult:
    error = ErrorInfo(code=code, message=message[:300], status=200)
    return LlmResult.failure(custom_id, error, provider=PROVIDER, mode=mode)


def message_result(custom_id: str, view: MessageView, mode: Mode) -> LlmResult | None:
    """The result of a successful Message; None when it cannot be read."""
    texts = [b.text for b in view.content if b.type == "text" and b.text is not None]
    if view.stop_reason == "refusal":
        return _failure(custom_id, "refusal", "".join(texts) or "the model refused", mode)
    tool = next(
        (b for b in view.content if b.type == "tool_use" and b.name in (OBJECT_TOOL, VALUE_TOOL)),
        None,
    )
    if tool is not None:
        if view.stop_reason == "max_tokens":
            message = "the answer reached max_tokens before its JSON was complete"
            return _failure(custom_id, "max_tokens", message, mode)
        text = _tool_json(tool)
        if text is None:
            return None
    elif texts:
        text = "".join(texts)
    else:
        return _failure(
            custom_id, view.stop_reason or "no_content", "the model returned no text", mode
        )
    return LlmResult.success(
        custom_id,
        provider=PROVIDER,
        mode=mode,
        model=view.model,
        text=text,
        usage=_usage(view.usage),
    )


def batch_status(view: BatchView) -> BatchStatus:
    """See the module docstring for the mapping."""
    status = view.processing_status
    if status == "in_progress":
        return BatchStatus.IN_PROGRESS
    if status == "canceling":
        return BatchStatus.CANCELLING
    if status == "ended":
        if view.cancel_initiated_at is not None:
            return BatchStatus.CANCELLED
        if view.request_counts.expired > 0:
            return BatchStatus.EXPIRED
        return BatchStatus.COMPLETED
    _log.warning("anthropic.batch.unknown_status", status=status[:40])
    return BatchStatus.IN_PROGRESS


def batch_state(view: BatchView, *, tag: str | None = None) -> BatchState:
    """The neutral state; counts other than `processing` stay 0 until the batch has ended."""
    counts = view.request_counts
    return BatchState(
        batch_id=view.id,
        status=batch_status(view),
        created_at=view.created_at.timestamp(),
        total=counts.total,
        completed=counts.succeeded,
        failed=counts.errored + counts.canceled + counts.expired,
        tag=tag,
    )
