"""Error classification, retry-after parsing, redaction and options, without any network."""

from __future__ import annotations

import email.utils
import time

import pytest
from batchery.secrets import Secret
from batchery_openai._errors import ErrorDetail, classify, redact, retry_after_s
from batchery_openai._options import OpenAIOptions


@pytest.mark.parametrize(
    ("status", "type_", "code", "expected", "retryable"),
    [
        (429, "tokens", "rate_limit_exceeded", "rate_limited", True),
        (429, None, None, "rate_limited", True),
        (429, "insufficient_quota", "insufficient_quota", "insufficient_quota", False),
        (500, "server_error", None, "server_error", True),
        (502, None, None, "server_error", True),
        (503, None, None, "overloaded", True),
        (200, "server_overloaded", None, "overloaded", True),
        (408, None, None, "timeout", True),
        (409, None, None, "conflict", True),
        (400, "invalid_request_error", None, "invalid_request", False),
        (404, "invalid_request_error", "model_not_found", "invalid_request", False),
        (422, None, None, "invalid_request", False),
        (401, "invalid_request_error", "invalid_api_key", "auth", False),
        (403, None, "unsupported_country_region_territory", "permission_denied", False),
        (418, None, None, "provider_error", False),
    ],
)
def test_classification(
    status: int, type_: str | None, code: str | None, expected: str, retryable: bool
) -> None:
    info = classify(status, ErrorDetail(message="m", type=type_, code=code))
    assert (info.code, info.retryable, info.status) == (expected, retryable, status)


def test_rate_limit_carries_retry_after_and_permanent_errors_do_not() -> None:
    limited = classify(429, None, headers={"retry-after-ms": "1500", "retry-after": "9"})
    assert limited.retry_after_s == 1.5
    quota = classify(429, ErrorDetail(code="insufficient_quota"), headers={"retry-after": "9"})
    assert quota.retry_after_s is None
    assert not quota.retryable


def test_should_retry_header_overrides_status_but_not_billing() -> None:
    assert not classify(500, None, headers={"x-should-retry": "false"}).retryable
    assert classify(400, None, headers={"x-should-retry": "true"}).retryable
    billing = classify(
        429, ErrorDetail(code="insufficient_quota"), headers={"x-should-retry": "true"}
    )
    assert not billing.retryable


def test_retry_after_forms() -> None:
    assert retry_after_s({"retry-after": "2.5"}) == 2.5
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after": "whenever"}) is None
    assert retry_after_s({}) is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after_s({"retry-after": later})
    assert wait is not None
    assert 25 <= wait <= 31


def test_messages_are_short_and_free_of_keys() -> None:
    key = "canary-key-with-no-usual-shape-42"
    detail = ErrorDetail(
        message=f"Incorrect API key provided: {key}. Also sk-abc***********wxyz. " + "x" * 1000,
        type="invalid_request_error",
        code="invalid_api_key",
    )
    info = classify(401, detail, secret=Secret(key))
    assert key not in info.message
    assert "sk-abc" not in info.message
    assert info.message.startswith("HTTP 401 invalid_api_key (invalid_request_error): ")
    assert len(info.message) <= 300
    assert redact("Authorization: Bearer abc.def", None) == "Authorization: [redacted]"


def test_options_from_env_and_repr() -> None:
    key = "sk-test-canary-0123456789"
    options = OpenAIOptions.from_env(
        {
            "OPENAI_API_KEY": key,
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_ORG_ID": "org-1",
            "OPENAI_PROJECT_ID": "",
        }
    )
    assert options.api_key == Secret(key)
    assert options.base_url == "http://127.0.0.1:9/v1"
    assert (options.organization, options.project) == ("org-1", None)
    assert key not in repr(options)
    assert key not in str(options)
    defaults = OpenAIOptions.from_env({})
    assert defaults.api_key is None
    assert defaults.base_url == "https://api.openai.com/v1"
    assert defaults.url("/batches") == "https://api.openai.com/v1/batches"


def test_options_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_get_attempts"):
        OpenAIOptions(max_get_attempts=0)
    with pytest.raises(ValueError, match="timeouts"):
        OpenAIOptions(request_timeout_s=0)
