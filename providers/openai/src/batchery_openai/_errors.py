"""Turning OpenAI's error answers into neutral, secret-free `ErrorInfo`.

The error `type` and `code` decide before the HTTP status does: OpenAI answers an exhausted
quota with a 429, which is permanent, while a real rate limit on the same status is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec
from batchery.http import retry_after_s
from batchery.model import ErrorInfo
from batchery.provider_kit import key_redactor
from batchery.secrets import Secret

__all__ = ["ErrorBody", "classify", "redact", "retry_after_s", "should_retry_header"]

_MAX_MESSAGE = 300
_KEY_PATTERNS = re.compile(
    r"(?:sk-[A-Za-z0-9_*\-]{6,}|Bearer\s+\S+|(?<![A-Za-z])key=[^&\s]+)", re.IGNORECASE
)


class ErrorDetail(msgspec.Struct, frozen=True):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    """OpenAI's `{"error": {...}}` envelope, every field optional so a bad body still decodes."""

    error: ErrorDetail | None = None


_ERROR_BODY = msgspec.json.Decoder(ErrorBody)


redact = key_redactor(_KEY_PATTERNS)
"""Text with the configured key and anything shaped like a key or bearer token removed."""


def decode_error_body(body: bytes) -> ErrorDetail | None:
    try:
        return _ERROR_BODY.decode(body).error
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def should_retry_header(headers: Mapping[str, str]) -> bool | None:
    value = headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


_RATE_TYPES = frozenset({"rate_limit_exceeded", "rate_limit_error", "tokens", "requests"})
_QUOTA = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
_OVERLOADED = frozenset({"server_overloaded", "engine_overloaded", "overloaded_error"})
_SERVER = frozenset({"server_error", "api_error", "internal_error"})
_AUTH = frozenset({"invalid_api_key", "authentication_error", "invalid_authentication"})
_PERMISSION = frozenset({"permission_error", "permission_denied", "unsupported_country"})


def _category(status: int | None, names: frozenset[str]) -> tuple[str, bool]:
    if names & _QUOTA:
        return "insufficient_quota", False
    if names & _AUTH or status == 401:
        return "auth", False
    if names & _PERMISSION or status == 403:
        return "permission_denied", False
    if names & _RATE_TYPES or status == 429:
        return "rate_limited", True
    if names & _OVERLOADED or status in (503, 529):
        return "overloaded", True
    if names & _SERVER or (status is not None and status >= 500):
        return "server_error", True
    if status == 408:
        return "timeout", True
    if status == 409:
        return "conflict", True
    if "invalid_request_error" in names or status in (400, 404, 413, 422):
        return "invalid_request", False
    return "provider_error", False


def classify(
    status: int | None,
    detail: ErrorDetail | None,
    *,
    headers: Mapping[str, str] | None = None,
    secret: Secret | None = None,
) -> ErrorInfo:
    """A neutral error from an HTTP status, OpenAI's error object and the response headers."""
    names = frozenset(
        str(name).lower()
        for name in ((detail.type, detail.code) if detail is not None else ())
        if name is not None
    )
    code, retryable = _category(status, names)
    hint = should_retry_header(headers) if headers is not None else None
    if hint is not None and code not in ("insufficient_quota", "auth", "permission_denied"):
        retryable = hint
    wait = retry_after_s(headers) if headers is not None else None
    return ErrorInfo(
        code=code,
        message=describe(status, detail, secret),
        retryable=retryable,
        status=status,
        retry_after_s=wait if retryable else None,
    )


def describe(status: int | None, detail: ErrorDetail | None, secret: Secret | None) -> str:
    """`HTTP 429 rate_limit_exceeded (tokens): short message`, redacted and bounded."""
    parts = [f"HTTP {status}" if status is not None else "OpenAI error"]
    if detail is not None:
        if detail.code is not None:
            parts.append(str(detail.code))
        if detail.type is not None and detail.type != detail.code:
            parts.append(f"({detail.type})")
    text = " ".join(parts)
    if detail is not None and detail.message:
        text = f"{text}: {detail.message}"
    text = redact(text, secret)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
