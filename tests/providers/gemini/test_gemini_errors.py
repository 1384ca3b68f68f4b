"""Google's error bodies classified: status string first, retryable or permanent, RetryInfo."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from batchery.secrets import Secret
from batchery_gemini._errors import classify, decode_error_body, redact, retry_delay_s

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def _body(code: int, status: str | None, message: str = "m", details: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if status is not None:
        error["status"] = status
    if details is not None:
        error["details"] = details
    return msgspec.json.encode({"error": error})


def test_resource_exhausted_honours_retry_info() -> None:
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "x"}]},
        {"@type": RETRY_INFO, "retryDelay": "38s"},
    ]
    info = classify(429, decode_error_body(_body(429, "RESOURCE_EXHAUSTED", "quota", details)))
    assert (info.code, info.retryable, info.status, info.retry_after_s) == (
        "rate_limited",
        True,
        429,
        38.0,
    )
    assert info.message == "HTTP 429 RESOURCE_EXHAUSTED: quota"


@pytest.mark.parametrize(
    ("delay", "seconds"),
    [("0.5s", 0.5), ("1.250s", 1.25), ({"seconds": 2, "nanos": 500_000_000}, 2.5), ("soon", None)],
)
def test_retry_delay_reads_protobuf_durations(delay: object, seconds: float | None) -> None:
    detail = decode_error_body(
        _body(429, None, details=[{"@type": RETRY_INFO, "retryDelay": delay}])
    )
    assert retry_delay_s(detail) == seconds


def test_a_retry_after_header_is_honoured_when_there_is_no_retry_info() -> None:
    info = classify(503, decode_error_body(_body(503, "UNAVAILABLE")), headers={"retry-after": "4"})
    assert (info.code, info.retryable, info.retry_after_s) == ("overloaded", True, 4.0)


@pytest.mark.parametrize(
    ("http", "status", "code", "retryable"),
    [
        (503, "UNAVAILABLE", "overloaded", True),
        (500, "INTERNAL", "server_error", True),
        (504, "DEADLINE_EXCEEDED", "timeout", True),
        (400, "INVALID_ARGUMENT", "invalid_request", False),
        (400, "FAILED_PRECONDITION", "invalid_request", False),
        (403, "PERMISSION_DENIED", "permission_denied", False),
        (404, "NOT_FOUND", "not_found", False),
        (401, "UNAUTHENTICATED", "auth", False),
        (409, "ABORTED", "conflict", True),
        (500, None, "server_error", True),
        (502, None, "overloaded", True),
        (429, None, "rate_limited", True),
        (400, None, "invalid_request", False),
        (418, None, "provider_error", False),
    ],
)
def test_classification_by_status_then_http_code(
    http: int, status: str | None, code: str, retryable: bool
) -> None:
    info = classify(http, decode_error_body(_body(http, status)))
    assert (info.code, info.retryable) == (code, retryable)
    if not retryable:
        assert info.retry_after_s is None


def test_the_status_string_wins_over_the_http_code() -> None:
    info = classify(400, decode_error_body(_body(400, "RESOURCE_EXHAUSTED")))
    assert (info.code, info.retryable) == ("rate_limited", True)


def test_an_invalid_api_key_is_an_auth_error() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    info = classify(
        400, decode_error_body(_body(400, "INVALID_ARGUMENT", "API key not valid", details))
    )
    assert (info.code, info.retryable) == ("auth", False)


@pytest.mark.parametrize(
    ("grpc", "code", "retryable"),
    [(8, "rate_limited", True), (13, "server_error", True), (3, "invalid_request", False)],
)
def test_grpc_codes_inside_batches_classify_without_an_http_status(
    grpc: int, code: str, retryable: bool
) -> None:
    detail = decode_error_body(_body(grpc, None))
    info = classify(None, detail)
    assert (info.code, info.retryable, info.status) == (code, retryable, None)
    assert info.message.startswith("Gemini error ")


def test_unreadable_bodies_still_classify_by_http_status() -> None:
    assert decode_error_body(b"<html>502 Bad Gateway</html>") is None
    info = classify(502, None)
    assert (info.code, info.retryable, info.message) == ("overloaded", True, "HTTP 502 UNAVAILABLE")


def test_messages_lose_keys_and_stay_bounded() -> None:
    key = "odd-canary-key-without-google-shape"
    google_shaped = "AIzaSyOTHERkey0123456789abcdefghijkl"
    message = f"key {key} and {google_shaped} and ?key=abc&x=1 and x-goog-api-key: zzz " + "x" * 500
    info = classify(
        400, decode_error_body(_body(400, "INVALID_ARGUMENT", message)), secret=Secret(key)
    )
    assert key not in info.message
    assert google_shaped not in info.message
    assert "key=abc" not in info.message
    assert "zzz" not in info.message
    assert len(info.message) <= 300
    assert redact("nothing secret here", None) == "nothing secret here"
