"""Turning Anthropic's error answers into neutral, secret-free `ErrorInfo`.

The error `type` decides, never the HTTP status alone: an `overloaded_error` may arrive with a
200 mid-stream or inside a batch result with no status at all, and Anthropic answers some 4xx
codes with `invalid_request_error`. The status is only a fallback for a body with no type.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

import msgspec
from batchery import http
from batchery.logging import redact_text
from batchery.model import ErrorInfo
from batchery.provider_kit import status_category
from batchery.secrets import MASK, Secret

from ._wire import ErrorObject, ErrorResponse

__all__ = [
    "classify",
    "decode_error_body",
    "describe",
    "redact",
    "retry_after_s",
]

_MAX_MESSAGE = 300
_ERROR_BODY = msgspec.json.Decoder(ErrorResponse)

_BY_TYPE: dict[str, tuple[str, bool]] = {
    "overloaded_error": ("overloaded", True),
    "rate_limit_error": ("rate_limited", True),
    "api_error": ("server_error", True),
    "timeout_error": ("timeout", True),
    "invalid_request_error": ("invalid_request", False),
    "request_too_large": ("request_too_large", False),
    "billing_error": ("insufficient_quota", False),
    "authentication_error": ("auth", False),
    "permission_error": ("permission_denied", False),
    "not_found_error": ("not_found", False),
}
"""Each documented error `type`, as (neutral code, retryable)."""

_PERMANENT = frozenset({"insufficient_quota", "auth", "permission_denied"})
_RATE_GROUPS = ("requests", "tokens", "input-tokens", "output-tokens")


def redact(text: str, secret: Secret | None) -> str:
    """Text with the configured key, and anything shaped like a key or a token, masked."""
    if secret is not None:
        text = text.replace(secret.reveal(), MASK)
    return redact_text(text)


def decode_error_body(body: bytes) -> ErrorObject | None:
    try:
        return _ERROR_BODY.decode(body).error
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


_BY_STATUS: Mapping[int, tuple[str, bool]] = {
    401: ("auth", False),
    402: ("insufficient_quota", False),
    403: ("permission_denied", False),
    404: ("not_found", False),
    408: ("timeout", True),
    409: ("conflict", True),
    413: ("request_too_large", False),
    429: ("rate_limited", True),
    504: ("timeout", True),
    529: ("overloaded", True),
}
"""Statuses with a category of their own, as (neutral code, retryable); others go by class
(see `status_category`)."""


def _category(status: int | None, detail: ErrorObject | None) -> tuple[str, bool]:
    kind = (detail.type or "").lower() if detail is not None else ""
    message = (detail.message or "").lower() if detail is not None else ""
    if "credit balance" in message:
        return "insufficient_quota", False
    if kind in _BY_TYPE:
        return _BY_TYPE[kind]
    return status_category(status, _BY_STATUS)


def _seconds_until(stamp: str) -> float | None:
    try:
        when = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _rate_reset_s(headers: Mapping[str, str]) -> float | None:
    """The latest reset among the `anthropic-ratelimit-*` groups that are used up."""
    waits: list[float] = []
    for group in _RATE_GROUPS:
        remaining = headers.get(f"anthropic-ratelimit-{group}-remaining", "").strip()
        reset = headers.get(f"anthropic-ratelimit-{group}-reset")
        if remaining == "0" and reset:
            wait = _seconds_until(reset)
            if wait is not None:
                waits.append(wait)
    return max(waits) if waits else None


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for, in seconds.

    `retry-after-ms` first, then `retry-after` (seconds or an HTTP date), then the reset time of
    an exhausted `anthropic-ratelimit-*` group, which a 429 may carry without `retry-after`.
    """
    asked = http.retry_after_s(headers)
    return asked if asked is not None else _rate_reset_s(headers)


def _should_retry(headers: Mapping[str, str]) -> bool | None:
    value = headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


def classify(
    status: int | None,
    detail: ErrorObject | None,
    *,
    headers: Mapping[str, str] | None = None,
    secret: Secret | None = None,
) -> ErrorInfo:
    """A neutral error from Anthropic's error object, the HTTP status and the headers.

    `x-should-retry` may overrule the type's verdict, except for errors no retry can fix
    (billing, authentication, permission).
    """
    code, retryable = _category(status, detail)
    hint = _should_retry(headers) if headers is not None else None
    if hint is not None and code not in _PERMANENT:
        retryable = hint
    wait = retry_after_s(headers) if headers is not None and retryable else None
    return ErrorInfo(
        code=code,
        message=describe(status, detail, secret),
        retryable=retryable,
        status=status,
        retry_after_s=wait,
    )


def describe(status: int | None, detail: ErrorObject | None, secret: Secret | None) -> str:
    """`HTTP 529 overloaded_error: Overloaded`, redacted and bounded."""
    text = f"HTTP {status}" if status is not None else "Anthropic error"
    if detail is not None and detail.type:
        text = f"{text} {detail.type}"
    if detail is not None and detail.message:
        text = f"{text}: {detail.message}"
    text = redact(text, secret)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
