from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import structlog
from batchery.logging import NOISY_LOGGERS, configure_logging, register_secret
from batchery.secrets import MASK, Secret

FORMATS = ["json", "console"]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _canary() -> str:
    return "sk-test-" + secrets.token_hex(16)


def _assert_clean(output: str, secret: str) -> None:
    assert secret not in output
    assert secret[:16] not in output
    assert quote(secret, safe="") not in output


def _raise_holding(value: str) -> None:
    held_key = value
    raise RuntimeError(f"request failed ({len(held_key)} chars)")


@pytest.mark.parametrize("fmt", FORMATS)
def test_canary_key_never_reaches_the_output(fmt: str) -> None:
    canary = _canary()
    stream = io.StringIO()
    configure_logging(fmt=fmt, stream=stream)
    log = structlog.get_logger("test")

    log.info("field", api_key=canary)
    log.info(f"calling with key {canary} now")
    log.info("url", url=f"https://api.invalid/v1/models?key={canary}&alt=json")
    log.info("nested", request={"headers": {"X-Api-Key": canary}, "args": [{"k": canary}]})
    log.info("header", headers={"Authorization": f"Bearer {canary}"})
    log.info("bound", token=Secret(canary))
    try:
        _raise_holding(canary)
    except RuntimeError:
        log.exception("call failed")
    try:
        raise ValueError(f"bad key {canary}")
    except ValueError:
        log.exception("call failed again")

    output = stream.getvalue()
    assert output.count("\n") >= 8
    assert "Traceback" in output or '"exception"' in output
    assert MASK in output
    _assert_clean(output, canary)


@pytest.mark.parametrize("fmt", FORMATS)
def test_tracebacks_show_no_locals(fmt: str) -> None:
    # Matches no key pattern and is not registered, so only leaving out locals keeps it out.
    held = "local-" + secrets.token_hex(20)
    stream = io.StringIO()
    configure_logging(fmt=fmt, stream=stream)
    try:
        _raise_holding(held)
    except RuntimeError:
        structlog.get_logger().exception("failed")
        logging.getLogger("asyncio").exception("failed in a callback")

    output = stream.getvalue()
    assert held[:16] not in output
    assert output.count(f"request failed ({len(held)} chars)") == 2
    assert "_raise_holding" in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_registered_values_are_redacted_whatever_their_format(fmt: str) -> None:
    plain = "acct_" + secrets.token_hex(12)
    wrapped = secrets.token_urlsafe(24)
    odd = "p@ss/" + secrets.token_hex(8) + " w0rd"
    stream = io.StringIO()
    configure_logging(fmt=fmt, stream=stream, secrets=[plain, Secret(odd)])
    register_secret(Secret(wrapped))
    log = structlog.get_logger()

    log.info(
        f"using {plain}", note=[{"deep": (wrapped,)}], url=f"https://h.invalid/?q={quote(odd)}"
    )
    log.info("odd", value=odd)
    try:
        raise PermissionError(f"rejected {wrapped} and {odd}")
    except PermissionError:
        log.exception("rejected")
    logging.getLogger("aiohttp.server").error("client sent %s", plain)

    output = stream.getvalue()
    for value in (plain, wrapped, odd):
        assert value not in output
        assert quote(value, safe="") not in output
    assert output.count(MASK) >= 6


def test_a_secret_object_renders_as_the_mask_and_is_caught_in_text_later() -> None:
    value = "opaque-" + secrets.token_hex(10)
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    log = structlog.get_logger()
    log.info("configured", credential=Secret(value))
    log.info(f"echo {value}")

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["credential"] == MASK
    assert second["event"] == f"echo {MASK}"


class _Client:
    """Stands for third-party objects whose repr carries the key they were built with."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"_Client(key={self.key!r})"


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendered_text_is_redacted_for_objects_holding_keys(fmt: str) -> None:
    canary = _canary()
    stream = io.StringIO()
    configure_logging(fmt=fmt, stream=stream)
    structlog.get_logger().info("built", client=_Client(canary), error=OSError(canary))
    _assert_clean(stream.getvalue(), canary)


def test_field_names_and_shapes_that_are_not_secrets_are_kept() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    structlog.get_logger().info(
        "chunk", key="custom-1", max_tokens=512, input_tokens=3, url="https://h.invalid/?page=2"
    )
    record = json.loads(stream.getvalue())
    assert record["key"] == "custom-1"
    assert (record["max_tokens"], record["input_tokens"]) == (512, 3)
    assert record["url"] == "https://h.invalid/?page=2"


@pytest.mark.parametrize(
    "secret", ["sk-ant-api03-" + "a1B2" * 8, "AIza" + "Xy9_" * 9, "pa-" + "q" * 40]
)
def test_provider_key_shapes_are_redacted_inside_text(secret: str) -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    structlog.get_logger().warning(f"retrying with {secret}")
    assert json.loads(stream.getvalue())["event"] == f"retrying with {MASK}"


def test_stdlib_records_share_the_stream_level_and_redaction() -> None:
    canary = _canary()
    stream = io.StringIO()
    configure_logging(level="info", fmt="json", stream=stream)
    logging.getLogger("aiohttp.client").info("GET %s", f"https://h.invalid/?key={canary}")
    logging.getLogger("aiohttp.client").warning("GET %s", f"https://h.invalid/?key={canary}")
    logging.getLogger("batchery.test").debug("hidden")
    logging.getLogger("batchery.test").info("shown x-api-key: %s", canary)

    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["logger"], r["level"]) for r in records] == [
        ("aiohttp.client", "warning"),
        ("batchery.test", "info"),
    ]
    assert records[0]["event"] == f"GET https://h.invalid/?key={MASK}"
    assert records[1]["event"] == f"shown x-api-key: {MASK}"


def test_reconfiguring_replaces_instead_of_stacking() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", stream=first)
    configure_logging(fmt="json", stream=second)
    configure_logging(level="debug", fmt="json", stream=second)

    structlog.get_logger().debug("once")
    logging.getLogger("batchery.test").info("once from stdlib")

    assert first.getvalue() == ""
    lines = second.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["once", "once from stdlib"]


def test_level_filters_and_context_is_merged() -> None:
    stream = io.StringIO()
    configure_logging(level="warning", fmt="json", stream=stream)
    structlog.contextvars.bind_contextvars(job_id="job-1")
    log = structlog.get_logger()
    log.info("dropped")
    log.warning("kept")

    record = json.loads(stream.getvalue())
    assert (record["event"], record["job_id"], record["level"]) == ("kept", "job-1", "warning")
    assert "timestamp" in record


def test_auto_picks_json_for_a_non_terminal_and_console_can_be_forced() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    structlog.get_logger().info("hello", n=1)
    assert json.loads(stream.getvalue())["n"] == 1

    console = io.StringIO()
    configure_logging(fmt="console", stream=console)
    structlog.get_logger().info("hello", n=1)
    assert "hello" in console.getvalue()
    assert "n=1" in console.getvalue()
    assert "\x1b[" not in console.getvalue()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="loud")
    with pytest.raises(ValueError, match="unknown log format"):
        configure_logging(fmt="xml")
