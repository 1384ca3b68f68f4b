"""Whether an answer is what its request asked for: a schema's answer must be that JSON.

A model asked for a JSON schema still fences its answer, wraps it in prose or stops mid-way.
`batchery.answers.parse_answer` undoes what can be undone; an answer it cannot turn into a
valid value is not a success but the explicit, retryable error `invalid_json`, so the runner
asks that request again on its own, once. A schema that uses keywords beyond the checked
subset is held to parsing as JSON at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from batchery.model import ErrorInfo, LlmRequest, LlmResult, RequestKind

if TYPE_CHECKING:
    from batchery.answers import ParsedAnswer

__all__ = ["INVALID_JSON", "checked_answer", "is_invalid_json"]

INVALID_JSON = "invalid_json"


def checked_answer(request: LlmRequest, result: LlmResult) -> LlmResult:
    """`result` as its request's schema judges it; unchanged when no schema was asked."""
    schema = request.response_schema
    if schema is None or not result.ok or request.kind is not RequestKind.CHAT:
        return result
    # `batchery.answers` runs its nodes on this service, so it is imported only once both exist.
    from batchery.answers import AnswerError

    try:
        parsed = _parsed(result.text, schema)
    except AnswerError as exc:
        error = ErrorInfo(code=INVALID_JSON, message=str(exc), retryable=True)
        return msgspec.structs.replace(result, ok=False, error=error, json_valid=False)
    if not parsed.repairs:
        return msgspec.structs.replace(result, json_valid=True)
    text = msgspec.json.encode(parsed.value).decode()
    return msgspec.structs.replace(result, text=text, json_valid=True, repairs=parsed.repairs)


def is_invalid_json(result: LlmResult) -> bool:
    return result.error is not None and result.error.code == INVALID_JSON


def _parsed(text: str | None, schema: dict[str, Any]) -> ParsedAnswer:
    from batchery.answers import SchemaError, parse_answer

    try:
        return parse_answer(text, schema)
    except SchemaError:
        return parse_answer(text, {})
