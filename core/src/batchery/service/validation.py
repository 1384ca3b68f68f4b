"""Rules every request must meet before anything is sent, each failure said for a person."""

from __future__ import annotations

import unicodedata

from batchery.model import LlmRequest, RequestKind
from batchery.spi import Provider

__all__ = ["MAX_CUSTOM_ID_LENGTH", "check_custom_id", "check_request", "id_problem"]

MAX_CUSTOM_ID_LENGTH = 512


def id_problem(value: str, *, max_length: int) -> str | None:
    """Why `value` cannot serve as an id ("must not be empty", ...), or None.

    Ids are echoed in results, events, file names and logs, so they stay printable and trimmed.
    """
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if value != value.strip():
        return "must not start or end with white space"
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        return "must not contain control characters"
    return None


def check_custom_id(custom_id: object) -> str | None:
    """Why `custom_id` cannot key a request, or None."""
    if not isinstance(custom_id, str):
        return "custom_id must be a string"
    problem = id_problem(custom_id, max_length=MAX_CUSTOM_ID_LENGTH)
    return None if problem is None else f"custom_id {problem}"


def check_request(request: LlmRequest, provider: Provider) -> str | None:
    """The first rule `request` breaks for `provider`, or None when it may be sent."""
    info = provider.info
    if request.kind not in info.kinds:
        kinds = ", ".join(sorted(info.kinds))
        return f"kind {request.kind!r} is not supported by {info.name} (it supports {kinds})"
    if request.kind is RequestKind.CHAT and not request.messages:
        return "a chat request needs at least one message"
    if request.kind is RequestKind.EMBEDDING and not request.input:
        return "an embedding request needs a non-empty input"
    if request.kind is RequestKind.CONTEXTUAL_EMBEDDING and not request.chunks:
        return "a contextual embedding request needs at least one chunk"
    if request.kind is RequestKind.RERANK and (not request.query or not request.documents):
        return "a rerank request needs a query and at least one document"
    if request.max_tokens is not None and request.max_tokens < 1:
        return "max_tokens must be at least 1"
    if request.temperature is not None and not 0 <= request.temperature <= 2:
        return "temperature must be between 0 and 2"
    return provider.check(request)
