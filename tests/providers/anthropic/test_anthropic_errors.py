"""Error classification: by Anthropic's error type first, the HTTP status only as a fallback."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from batchery.secrets import Secret
from batchery_anthropic._errors import classify, decode_error_body, retry_after_s
from batchery_anthropic._wire import ErrorObject


def detail(kind: str | None, message: str = "m") -> ErrorObject:
    return ErrorObject(type=kind, message=message)


@pytest.mark.parametrize(
    ("status", "kind", "code", "retryable"),
    [
        (529, "overloaded_error", "overloaded", True),
        (200, "overloaded_error", "overloaded", True),
        (None, "overloaded_error", "overloaded", True),
        (429, "rate_limit_error", "rate_limited", True),
        (500, "api_error", "server_error", True),
        (504, "timeout_error", "timeout", True),
        (400, "invalid_request_error", "invalid_request", False),
        (500, "invalid_request_error", "invalid_request", False),
        (413, "request_too_large", "request_too_large", False),
        (401, "authentication_error", "auth", False),
        (403, "permission_error", "permission_denied", False),
        (404, "not_found_error", "not_found", False),
        (402, "billing_error", "insufficient_quota", False),
        (429, "something_new", "rate_limited", True),
        (503, None, "server_error", True),
        (529, None, "overloaded", True),
        (418, None, "invalid_request", False),
        (None, None, "provider_error", False),
    ],
)
def test_the_type_decides_before_the_status(
    status: int | None, kind: str | None, code: str, retryable: bool
) -> None:
    info = classify(status, detail(kind) if kind else None)
    assert (info.code, info.retryable, info.status) == (code, retryable, status)


def test_messages_name_status_type_and_text_without_secrets() -> None:
    key = Secret("sk-ant-api03-0123456789abcdefghij")
    info = classify(
        401,
        detail("authentication_error", f"bad key {key.reveal()} and x-api-key: other"),
        secret=key,
    )
    assert info.message.startswith("HTTP 401 authentication_error: bad key ")
    assert key.reveal() not in info.message
    assert "other" not in info.message
    long = classify(400, detail("invalid_request_error", "x" * 1000))
    assert len(long.message) == 300


def test_should_retry_overrules_the_type_except_for_permanent_causes() -> None:
    assert not classify(500, detail("api_error"), headers={"x-should-retry": "false"}).retryable
    assert classify(
        400, detail("invalid_request_error"), headers={"x-should-retry": "true"}
    ).retryable
    assert not classify(
        401, detail("authentication_error"), headers={"x-should-retry": "true"}
    ).retryable


def stamp(seconds_from_now: float) -> str:
    return (
        datetime.fromtimestamp(time.time() + seconds_from_now, UTC)
        .isoformat()
        .replace("+00:00", "Z")
    )


def test_retry_after_in_every_spelling() -> None:
    assert retry_after_s({"retry-after": "7"}) == 7.0
    assert retry_after_s({"retry-after-ms": "1500", "retry-after": "7"}) == 1.5
    assert retry_after_s({"retry-after": "-3"}) == 0.0
    dated = retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert dated == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_exhausted_rate_limit_groups_give_the_wait_when_retry_after_is_missing() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "12",
        "anthropic-ratelimit-requests-reset": stamp(50),
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": stamp(20),
        "anthropic-ratelimit-output-tokens-remaining": "0",
        "anthropic-ratelimit-output-tokens-reset": stamp(8),
    }
    wait = retry_after_s(headers)
    assert wait is not None
    assert 18 < wait <= 20
    info = classify(429, detail("rate_limit_error"), headers=headers)
    assert info.retry_after_s == pytest.approx(wait, abs=0.5)
    assert retry_after_s({**headers, "retry-after": "3"}) == 3.0
    assert retry_after_s({"anthropic-ratelimit-tokens-remaining": "0"}) is None
    assert (
        retry_after_s(
            {
                "anthropic-ratelimit-tokens-remaining": "0",
                "anthropic-ratelimit-tokens-reset": "not a time",
            }
        )
        is None
    )


def test_permanent_errors_carry_no_wait() -> None:
    info = classify(400, detail("invalid_request_error"), headers={"retry-after": "5"})
    assert info.retry_after_s is None


def test_error_bodies_decode_leniently() -> None:
    body = (
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},'
        b'"request_id":"req_1"}'
    )
    assert decode_error_body(body) == ErrorObject(type="overloaded_error", message="Overloaded")
    assert decode_error_body(b"<html>502</html>") is None
    assert decode_error_body(b'{"error": null}') is None
    assert decode_error_body(b"\xff") is None
