"""Voyage's `{"detail"}` errors classified by status into retryable and permanent, secret-free."""

from __future__ import annotations

import email.utils
import time

import pytest
from batchery.secrets import Secret
from batchery_voyage._errors import (
    classify,
    describe_detail,
    line_error,
    message_of,
    redact,
    retry_after_s,
)

KEY = Secret("pa-ERRORScanary0123456789abcdef")


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (400, "invalid_request", False),
        (401, "auth", False),
        (403, "permission_denied", False),
        (404, "not_found", False),
        (408, "timeout", True),
        (409, "conflict", True),
        (413, "invalid_request", False),
        (418, "invalid_request", False),
        (422, "invalid_request", False),
        (429, "rate_limited", True),
        (500, "server_error", True),
        (502, "unavailable", True),
        (503, "unavailable", True),
        (504, "unavailable", True),
        (507, "server_error", True),
        (None, "provider_error", False),
    ],
)
def test_statuses_decide_the_class(status: int | None, code: str, retryable: bool) -> None:
    info = classify(status, "no luck")
    assert (info.code, info.retryable, info.status) == (code, retryable, status)


def test_a_429_keeps_its_retry_after() -> None:
    info = classify(429, "Rate limit exceeded", headers={"retry-after": "7"})
    assert (info.retryable, info.retry_after_s) == (True, 7.0)
    assert info.message == "HTTP 429: Rate limit exceeded"


def test_a_permanent_error_drops_retry_after() -> None:
    assert classify(400, "bad", headers={"retry-after": "7"}).retry_after_s is None


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_s({"retry-after": "2.5"}) == 2.5
    assert retry_after_s({"retry-after": "-3"}) == 0.0
    assert retry_after_s({}) is None
    assert retry_after_s({"retry-after": "soon"}) is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after_s({"retry-after": later})
    assert wait is not None
    assert 25 <= wait <= 31


def test_details_in_every_shape() -> None:
    assert message_of(b'{"detail": "Provided API key is invalid."}') == (
        "Provided API key is invalid."
    )
    validator = b'{"detail": [{"loc": ["body", "input"], "msg": "field required"}, {"msg": "x"}]}'
    assert message_of(validator) == "field required; x"
    assert message_of(b'{"detail": {"message": "nested"}}') == "nested"
    assert message_of(b"<html>502 Bad Gateway</html>") is None
    assert message_of(b'{"detail": 3}') is None
    assert describe_detail("") is None


def test_messages_are_redacted_and_bounded() -> None:
    info = classify(
        401,
        f"key {KEY.reveal()} is wrong; Bearer abc.def; pa-othersecret12345; url?key=zzz " * 20,
        secret=KEY,
    )
    assert KEY.reveal() not in info.message
    assert "abc.def" not in info.message
    assert "pa-othersecret12345" not in info.message
    assert "zzz" not in info.message
    assert len(info.message) <= 300
    assert info.message.endswith("...")


def test_redact_without_a_configured_key_still_hides_key_shapes() -> None:
    assert redact("use al-mongodbkey123456 please", None) == "use [redacted] please"


def test_line_errors_mark_unrun_requests_retryable() -> None:
    expired = line_error("batch_expired", None, KEY)
    assert (expired.code, expired.message, expired.retryable) == (
        "batch_expired",
        "batch_expired",
        True,
    )
    other = line_error(None, f"odd {KEY.reveal()}", KEY)
    assert (other.code, other.retryable) == ("batch_line_error", False)
    assert KEY.reveal() not in other.message
