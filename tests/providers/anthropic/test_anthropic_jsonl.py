"""The results stream: lines cut in any chunking, every line type, and lines that are broken."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import msgspec
import pytest
from batchery.model import LlmResult
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine
from batchery_anthropic import to_wire
from batchery_anthropic._jsonl import RawLine, parse_line, parse_stream, split_lines


async def chunked(data: bytes, sizes: Iterable[int]) -> AsyncIterator[bytes]:
    start = 0
    for size in sizes:
        if start >= len(data):
            break
        yield data[start : start + size]
        start += size
    if start < len(data):
        yield data[start:]


async def lines_of(data: bytes, sizes: Iterable[int], **kw: Any) -> list[RawLine]:
    return [line async for line in split_lines(chunked(data, sizes), **kw)]


def succeeded(custom_id: str, text: str = "hi") -> bytes:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 1},
    }
    line = {"custom_id": to_wire(custom_id), "result": {"type": "succeeded", "message": message}}
    return msgspec.json.encode(line)


def other(custom_id: str, result: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"custom_id": to_wire(custom_id), "result": result})


def errored(custom_id: str, kind: str, message: str = "m") -> bytes:
    error = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}
    return other(custom_id, {"type": "errored", "error": error})


SAMPLE = b"\r\n".join([succeeded("é 1", "naïve ☃"), b"", succeeded("b")]) + b"\r\n" + b"tail"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
async def test_any_chunking_gives_the_same_lines(size: int) -> None:
    whole = await lines_of(SAMPLE, [len(SAMPLE)])
    assert await lines_of(SAMPLE, iter(lambda: size, None)) == whole
    assert [(line.number, line.terminated) for line in whole] == [
        (1, True),
        (2, True),
        (3, True),
        (4, False),
    ]
    assert whole[0].data == succeeded("é 1", "naïve ☃")
    assert whole[3].data == b"tail"


async def test_every_split_point_of_a_crlf_and_a_utf8_character() -> None:
    data = succeeded("ü", "☃") + b"\r\n" + succeeded("v") + b"\r\n"
    expected = await lines_of(data, [len(data)])
    for cut in range(1, len(data)):
        assert await lines_of(data, [cut, len(data)]) == expected, cut


async def test_overlong_lines_are_reported_and_skipped() -> None:
    data = b"a" * 50 + b"\n" + b"ok\n" + b"b" * 30 + b"c" * 30 + b"\n" + b"d" * 70
    got = await lines_of(data, iter(lambda: 16, None), max_line_bytes=40)
    assert [(line.number, line.too_long, line.data) for line in got] == [
        (1, True, b""),
        (2, False, b"ok"),
        (3, True, b""),
        (4, True, b""),
    ]
    assert not got[-1].terminated


def parse(data: bytes, number: int = 1, terminated: bool = True) -> CollectedLine | None:
    return parse_line(RawLine(number, data, terminated))


def test_succeeded_lines_map_ids_back() -> None:
    result = parse(succeeded("é 1", "naïve"))
    assert isinstance(result, LlmResult)
    assert (result.custom_id, result.ok, result.text) == ("é 1", True, "naïve")
    assert result.usage.cached_tokens == 1


@pytest.mark.parametrize(
    ("kind", "code", "retryable"),
    [
        ("overloaded_error", "overloaded", True),
        ("rate_limit_error", "rate_limited", True),
        ("api_error", "server_error", True),
        ("timeout_error", "timeout", True),
        ("invalid_request_error", "invalid_request", False),
        ("billing_error", "insufficient_quota", False),
        ("permission_error", "permission_denied", False),
        ("authentication_error", "auth", False),
        ("a_new_kind", "provider_error", False),
    ],
)
def test_errored_lines_are_classified(kind: str, code: str, retryable: bool) -> None:
    result = parse(errored("x", kind))
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert (result.ok, result.error.code, result.error.retryable) == (False, code, retryable)


def test_credit_balance_errors_are_permanent_whatever_their_type() -> None:
    low = "Your credit balance is too low to access the Anthropic API."
    result = parse(errored("x", "invalid_request_error", low))
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("insufficient_quota", False)


@pytest.mark.parametrize(
    ("kind", "code"), [("canceled", "batch_cancelled"), ("expired", "batch_expired")]
)
def test_unrun_requests_are_retryable(kind: str, code: str) -> None:
    result = parse(other("x y", {"type": kind}))
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert (result.custom_id, result.error.code, result.error.retryable) == ("x y", code, True)


@pytest.mark.parametrize(
    ("data", "reason", "custom_id"),
    [
        (succeeded("a b")[:40], "results: truncated line", "a b"),
        (succeeded("a b").replace(b'"', b"", 4), "results: invalid JSON", None),
        (msgspec.json.encode(succeeded("a").decode()), "results: not a JSON object", None),
        (b"\xff\xfe" + succeeded("a")[:16], "results: invalid UTF-8", "a"),
        (b'{"result": {"type": "succeeded"}}', "results: missing custom_id", None),
        (b'{"custom_id": "z", "result": 3}', "results: unexpected line shape", "z"),
        (other("a", {"type": "succeeded"}), "results: unreadable message", "a"),
        (other("a", {"type": "mystery"}), "results: unknown result type 'mystery'", "a"),
        (
            other("a", {"type": "succeeded", "message": {"content": 1}}),
            "results: unexpected line shape",
            "a",
        ),
    ],
)
def test_broken_lines_are_malformed_and_named_when_possible(
    data: bytes, reason: str, custom_id: str | None
) -> None:
    found = parse(data, number=9, terminated=not reason.endswith("truncated line"))
    assert found == MalformedLine(line=9, reason=reason, custom_id=custom_id)


def test_ids_batchery_never_sends_are_malformed() -> None:
    line = msgspec.json.encode({"custom_id": "_b64_aGVsbG8", "result": {"type": "expired"}})
    found = parse(line)
    assert isinstance(found, MalformedLine)
    assert found.custom_id == "_b64_aGVsbG8"


def test_blank_lines_and_secrets() -> None:
    assert parse(b"   ") is None
    key = Secret("sk-ant-api03-SECRETSECRETSECRET")
    line = errored("x", "invalid_request_error", "bad key sk-ant-api03-SECRETSECRETSECRET here")
    result = parse_line(RawLine(1, line), secret=key)
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert "SECRETSECRET" not in result.error.message


async def test_the_stream_reports_duplicates_and_goes_on() -> None:
    data = b"\n".join([succeeded("a"), b"{broken", succeeded("a"), errored("b", "api_error"), b""])
    seen: set[str] = set()
    items = [item async for item in parse_stream(chunked(data, [3] * 999), seen=seen)]
    kinds = [(type(i).__name__, i.custom_id) for i in items]
    assert kinds == [
        ("LlmResult", "a"),
        ("MalformedLine", None),
        ("MalformedLine", "a"),
        ("LlmResult", "b"),
    ]
    assert items[2] == MalformedLine(line=3, reason="results: duplicate custom_id", custom_id="a")
    assert seen == {"a", "b"}
