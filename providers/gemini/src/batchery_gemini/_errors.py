"""Turning Google's error answers into neutral, secret-free `ErrorInfo`.

Google answers `{"error": {"code", "message", "status", "details"}}`. The canonical `status`
string decides before the number does; the number is the HTTP status in an HTTP reply but a
gRPC code inside an Operation or a result line, and the two ranges do not overlap. The wait the
server asks for is in a `google.rpc.RetryInfo` detail (`retryDelay`, a protobuf Duration such
as `"38s"`); Gemini documents no rate-limit headers, though a `retry-after` is honoured too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
from batchery.model import ErrorInfo
from batchery.provider_kit import key_redactor
from batchery.secrets import Secret

from ._wire import ErrorBody, StatusView

__all__ = ["classify", "decode_error_body", "describe", "redact", "retry_delay_s", "status_name"]

_MAX_MESSAGE = 300
_KEY_PATTERNS = re.compile(
    r"(?:AIza[0-9A-Za-z_\-]{20,}|(?<![A-Za-z])key=[^&\s]+|x-goog-api-key:?\s*\S+)",
    re.IGNORECASE,
)
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)s\s*$")
_ERROR_BODY = msgspec.json.Decoder(ErrorBody)

_GRPC_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)

_BY_STATUS: Mapping[str, tuple[str, bool]] = {
    "RESOURCE_EXHAUSTED": ("rate_limited", True),
    "UNAVAILABLE": ("overloaded", True),
    "INTERNAL": ("server_error", True),
    "UNKNOWN": ("server_error", True),
    "DATA_LOSS": ("server_error", True),
    "DEADLINE_EXCEEDED": ("timeout", True),
    "ABORTED": ("conflict", True),
    "CANCELLED": ("cancelled", True),
    "INVALID_ARGUMENT": ("invalid_request", False),
    "FAILED_PRECONDITION": ("invalid_request", False),
    "OUT_OF_RANGE": ("invalid_request", False),
    "UNIMPLEMENTED": ("invalid_request", False),
    "ALREADY_EXISTS": ("conflict", False),
    "NOT_FOUND": ("not_found", False),
    "PERMISSION_DENIED": ("permission_denied", False),
    "UNAUTHENTICATED": ("auth", False),
}
_BY_HTTP: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})


redact = key_redactor(_KEY_PATTERNS)
"""Text with the configured key and anything shaped like a Google API key removed."""


def decode_error_body(body: bytes) -> StatusView | None:
    try:
        return _ERROR_BODY.decode(body).error
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def status_name(http_status: int | None, detail: StatusView | None) -> str | None:
    """The canonical status: the `status` string, else the gRPC code, else the HTTP status."""
    if detail is not None and detail.status:
        return detail.status.upper()
    code = detail.code if detail is not None else None
    if code is not None and 0 <= code < len(_GRPC_NAMES):
        return _GRPC_NAMES[code]
    number = http_status if http_status is not None else code
    if number is None:
        return None
    if number in _BY_HTTP:
        return _BY_HTTP[number]
    return "INTERNAL" if number >= 500 else None


def _details(detail: StatusView | None, kind: str) -> list[Mapping[str, Any]]:
    if detail is None or not detail.details:
        return []
    return [
        item
        for item in detail.details
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith(f"google.rpc.{kind}")
    ]


def _duration_s(value: object) -> float | None:
    if isinstance(value, str):
        match = _DURATION.match(value)
        return max(float(match.group(1)), 0.0) if match else None
    if isinstance(value, Mapping):
        seconds, nanos = value.get("seconds", 0), value.get("nanos", 0)
        try:
            return max(float(seconds) + float(nanos) / 1e9, 0.0)
        except (TypeError, ValueError):
            return None
    return None


def retry_delay_s(
    detail: StatusView | None, headers: Mapping[str, str] | None = None
) -> float | None:
    """The wait the server asked for: `RetryInfo.retryDelay`, else a `retry-after` header."""
    for info in _details(detail, "RetryInfo"):
        delay = _duration_s(info.get("retryDelay"))
        if delay is not None:
            return delay
    raw = headers.get("retry-after") if headers is not None else None
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None


def _category(status: str | None, detail: StatusView | None) -> tuple[str, bool]:
    reasons = {str(item.get("reason", "")) for item in _details(detail, "ErrorInfo")}
    if reasons & _AUTH_REASONS:
        return "auth", False
    if status is None:
        return "provider_error", False
    return _BY_STATUS.get(status, ("provider_error", False))


def classify(
    http_status: int | None,
    detail: StatusView | None,
    *,
    headers: Mapping[str, str] | None = None,
    secret: Secret | None = None,
) -> ErrorInfo:
    """A neutral error from an HTTP status (None inside a batch) and Google's Status."""
    status = status_name(http_status, detail)
    code, retryable = _category(status, detail)
    wait = retry_delay_s(detail, headers) if retryable else None
    return ErrorInfo(
        code=code,
        message=describe(http_status, status, detail, secret),
        retryable=retryable,
        status=http_status,
        retry_after_s=wait,
    )


def describe(
    http_status: int | None, status: str | None, detail: StatusView | None, secret: Secret | None
) -> str:
    """`HTTP 429 RESOURCE_EXHAUSTED: short message`, redacted and bounded."""
    parts = [f"HTTP {http_status}" if http_status is not None else "Gemini error"]
    if status is not None:
        parts.append(status)
    text = " ".join(parts)
    if detail is not None and detail.message:
        text = f"{text}: {detail.message}"
    text = redact(text, secret)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
