import re

from batchery.provider_kit import key_redactor, status_category
from batchery.secrets import Secret

_TABLE = {429: ("rate_limited", True), 404: ("not_found", False)}


def test_status_category_takes_the_table_first_then_the_status_class() -> None:
    assert status_category(429, _TABLE) == ("rate_limited", True)
    assert status_category(404, _TABLE) == ("not_found", False)
    assert status_category(502, _TABLE) == ("server_error", True)
    assert status_category(418, _TABLE) == ("invalid_request", False)
    assert status_category(302, _TABLE) == ("provider_error", False)
    assert status_category(None, _TABLE) == ("provider_error", False)


def test_key_redactor_removes_the_configured_key_and_every_key_shape() -> None:
    redact = key_redactor(re.compile(r"tok-\w+"))
    text = "key s3cret-value, also tok-abc123 and tok-zzz"
    assert redact(text, Secret("s3cret-value")) == "key [redacted], also [redacted] and [redacted]"
    assert redact("tok-abc s3cret", None) == "[redacted] s3cret"
