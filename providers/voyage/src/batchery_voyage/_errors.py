"""Turning Voyage's error answers into neutral, secret-free `ErrorInfo`.

Voyage answers errors as `{"detail": ...}` and says what went wrong through the HTTP status
alone (provider-wire-formats.md §4.9): there is no error type or code to read, so the status
decides what is retryable. `detail` is usually a string, but a 422 from its request validator
carries a list of `{loc, msg}` objects, so any JSON value is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
from batchery.http import retry_after_s
from batchery.model import ErrorInfo
from batchery.provider_kit import key_redactor, status_category
from batchery.secrets import Secret

__all__ = [
    "UNFINISHED_CODES",
    "ErrorBody",
    "classify",
    "describe_detail",
    "line_error",
    "message_of",
    "redact",
    "retry_after_s",
]

MAX_MESSAGE = 300
UNFINISHED_CODES = frozenset({"batch_expired", "batch_cancelled"})
"""Per-line codes for requests a batch never ran; running them again may well succeed."""

_KEY_PATTERNS = re.compile(
    r"(?:\b(?:pa|al)-[A-Za-z0-9_\-]{8,}|Bearer\s+\S+|(?<![A-Za-z])key=[^&\s]+)", re.IGNORECASE
)

_CATEGORIES: Mapping[int, tuple[str, bool]] = {
    400: ("invalid_request", False),
    401: ("auth", False),
    403: ("permission_denied", False),
    404: ("not_found", False),
    408: ("timeout", True),
    409: ("conflict", True),
    413: ("invalid_request", False),
    422: ("invalid_request", False),
    429: ("rate_limited", True),
    500: ("server_error", True),
    502: ("unavailable", True),
    503: ("unavailable", True),
    504: ("unavailable", True),
}


class ErrorBody(msgspec.Struct, frozen=True):
    """Voyage's `{"detail": ...}` envelope; any shape decodes so a bad body is still read."""

    detail: Any = None


_ERROR_BODY = msgspec.json.Decoder(ErrorBody)


redact = key_redactor(_KEY_PATTERNS)
"""Text with the configured key and anything shaped like a key or bearer token removed."""


def describe_detail(detail: Any) -> str | None:
    """A person's reading of `detail`: the string itself, or the validator's messages joined."""
    if isinstance(detail, str):
        return detail or None
    if isinstance(detail, list):
        parts = [
            str(item.get("msg") or item.get("message") or "") if isinstance(item, dict) else ""
            for item in detail
        ]
        joined = "; ".join(part for part in parts if part)
        return joined or None
    if isinstance(detail, dict):
        return describe_detail(detail.get("message") or detail.get("msg"))
    return None


def message_of(body: bytes) -> str | None:
    """The message an error body carries, or None when it is not Voyage's JSON envelope."""
    try:
        return describe_detail(_ERROR_BODY.decode(body).detail)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def classify(
    status: int | None,
    message: str | None,
    *,
    headers: Mapping[str, str] | None = None,
    secret: Secret | None = None,
) -> ErrorInfo:
    """A neutral error from an HTTP status, Voyage's message and the response headers."""
    code, retryable = status_category(status, _CATEGORIES)
    wait = retry_after_s(headers) if headers is not None and retryable else None
    text = f"HTTP {status}" if status is not None else "Voyage error"
    if message:
        text = f"{text}: {message}"
    return ErrorInfo(
        code=code,
        message=_bounded(redact(text, secret)),
        retryable=retryable,
        status=status,
        retry_after_s=wait,
    )


def line_error(code: str | None, message: str | None, secret: Secret | None) -> ErrorInfo:
    """The error of a result line that carries `error` instead of a response.

    `batch_expired` and `batch_cancelled` mark requests the batch never ran, which are worth
    sending again; any other code is Voyage's verdict on the request itself.
    """
    name = code or "batch_line_error"
    text = _bounded(redact(message or name, secret))
    return ErrorInfo(code=name, message=text, retryable=name in UNFINISHED_CODES)
