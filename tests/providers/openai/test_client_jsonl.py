"""Result-file parsing over byte streams cut at awkward places, and input-line writing."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterable

import msgspec
import pytest
from batchery.model import LlmRequest, LlmResult, Message, Mode, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine
from batchery_openai._jsonl import (
    RawLine,
    encode_line,
    parse_line,
    parse_stream,
    split_lines,
    write_lines,
)


async def _chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _lines(parts: Iterable[bytes], **kwargs: int) -> list[RawLine]:
    return [line async for line in split_lines(_chunks(parts), **kwargs)]


def _chat_line(custom_id: str, text: str = "Héllo ✓") -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 2,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }
    line = {
        "id": "batch_req_1",
        "custom_id": custom_id,
        "response": {"status_code": 200, "request_id": "req_1", "body": body},
        "error": None,
    }
    return msgspec.json.encode(line)


SAMPLE = _chat_line("a") + b"\r\n" + b"\n" + _chat_line("b", "日本語") + b"\n" + _chat_line("c")


async def test_every_split_point_gives_the_same_lines() -> None:
    whole = await _lines([SAMPLE])
    assert [line.data for line in whole] == [
        _chat_line("a"),
        b"",
        _chat_line("b", "日本語"),
        _chat_line("c"),
    ]
    assert [line.terminated for line in whole] == [True, True, True, False]
    for cut in range(1, len(SAMPLE)):
        assert await _lines([SAMPLE[:cut], SAMPLE[cut:]]) == whole, cut


async def test_byte_by_byte_and_crlf_split_across_chunks() -> None:
    crlf = SAMPLE.index(b"\r\n")
    assert await _lines([SAMPLE[: crlf + 1], SAMPLE[crlf + 1 :]]) == await _lines([SAMPLE])
    assert await _lines([bytes([b]) for b in SAMPLE]) == await _lines([SAMPLE])


async def test_multibyte_character_split_still_decodes() -> None:
    data = _chat_line("jp", "日本語") + b"\n"
    middle = data.index("本".encode()) + 1
    lines = await _lines([data[:middle], data[middle:]])
    result = parse_line(lines[0], RequestKind.CHAT, source="output")
    assert isinstance(result, LlmResult)
    assert result.text == "日本語"


async def test_overlong_line_is_reported_and_the_next_one_survives() -> None:
    long_line = b"x" * 100
    lines = await _lines([long_line[:60], long_line[60:] + b"\n" + b"ok\n"], max_line_bytes=50)
    assert lines == [RawLine(1, b"", too_long=True), RawLine(2, b"ok")]
    verdict = parse_line(lines[0], RequestKind.CHAT, source="output")
    assert verdict == MalformedLine(line=1, reason="output file: line too long")


async def test_trailing_whitespace_only_is_not_a_line() -> None:
    assert await _lines([b"a\n", b"  "]) == [RawLine(1, b"a")]
    assert await _lines([]) == []


def test_successful_chat_line() -> None:
    result = parse_line(RawLine(1, _chat_line("q-1")), RequestKind.CHAT, source="output")
    assert isinstance(result, LlmResult)
    assert result.ok
    assert result.mode is Mode.BATCH
    assert result.provider == "openai"
    assert result.text == "Héllo ✓"
    assert result.model == "gpt-4o-mini"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (9, 2)
    assert result.usage.cached_tokens == 4


def test_successful_embedding_line() -> None:
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0, 2]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    line = {"custom_id": "e-1", "response": {"status_code": 200, "body": body}}
    result = parse_line(
        RawLine(1, msgspec.json.encode(line)), RequestKind.EMBEDDING, source="output"
    )
    assert isinstance(result, LlmResult)
    assert result.vector == (0.5, -1.0, 2.0)
    assert result.usage.input_tokens == 3


def test_non_200_line_is_a_classified_failure() -> None:
    key = "sk-canary-0123456789abcdef"
    body = {
        "error": {
            "message": f"Invalid 'max_tokens' for key {key}",
            "type": "invalid_request_error",
            "param": "max_tokens",
            "code": None,
        }
    }
    line = {"custom_id": "q-2", "response": {"status_code": 400, "body": body}, "error": None}
    result = parse_line(
        RawLine(1, msgspec.json.encode(line)),
        RequestKind.CHAT,
        source="error",
        secret=Secret(key),
    )
    assert isinstance(result, LlmResult)
    assert not result.ok
    assert result.error is not None
    assert result.error.code == "invalid_request"
    assert not result.error.retryable
    assert result.error.status == 400
    assert key not in result.error.message
    assert "invalid_request_error" in result.error.message


@pytest.mark.parametrize(
    ("code", "retryable"),
    [("batch_expired", True), ("batch_cancelled", True), ("something_else", False)],
)
def test_error_object_lines(code: str, retryable: bool) -> None:
    line = {"custom_id": "q-3", "response": None, "error": {"code": code, "message": "m"}}
    result = parse_line(RawLine(1, msgspec.json.encode(line)), RequestKind.CHAT, source="error")
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert result.error.retryable is retryable
    assert (result.error.code == code) is retryable


@pytest.mark.parametrize(
    ("raw", "reason", "custom_id"),
    [
        (RawLine(4, b'{"custom_id": "q-9", "response": oops}'), "invalid JSON", "q-9"),
        (RawLine(4, b'{"custom_id": "q-9", "response": {"status_'), "truncated line", "q-9"),
        (
            RawLine(4, b'{"custom_id": "q-9", "response": {', terminated=False),
            "truncated line",
            "q-9",
        ),
        (RawLine(4, b'{"custom_id": "q-\xff", "error": null}'), "invalid UTF-8", None),
        (RawLine(4, b'{"custom_id": "q-8", "error": {"code": "\xfe"}}'), "invalid UTF-8", "q-8"),
        (RawLine(4, b"[1, 2, 3]"), "not a JSON object", None),
        (RawLine(4, b'"just a string"'), "not a JSON object", None),
        (RawLine(4, b'{"response": null, "error": null}'), "missing custom_id", None),
        (RawLine(4, b'{"custom_id": 17}'), "missing custom_id", None),
        (
            RawLine(4, b'{"custom_id": "q-7", "response": {"status_code": "two hundred"}}'),
            "unexpected line shape",
            "q-7",
        ),
        (RawLine(4, b'{"custom_id": "q-6"}'), "neither response nor error", "q-6"),
        (
            RawLine(4, b'{"custom_id": "q-5", "response": {"status_code": 200, "body": {}}}'),
            "unreadable response body",
            "q-5",
        ),
        (
            RawLine(
                4,
                b'{"custom_id": "q-4", "response": {"status_code": 200, "body": {"choices": []}}}',
            ),
            "unreadable response body",
            "q-4",
        ),
    ],
)
def test_malformed_lines(raw: RawLine, reason: str, custom_id: str | None) -> None:
    verdict = parse_line(raw, RequestKind.CHAT, source="output")
    assert verdict == MalformedLine(line=4, reason=f"output file: {reason}", custom_id=custom_id)


def test_blank_line_is_skipped() -> None:
    assert parse_line(RawLine(1, b"  \t"), RequestKind.CHAT, source="output") is None


async def test_stream_survives_bad_lines_and_reports_duplicates() -> None:
    stream = b"\n".join(
        [
            _chat_line("a"),
            b"{not json",
            b"\xff\xfe",
            _chat_line("b"),
            _chat_line("a", "second answer"),
            b"[]",
            _chat_line("c")[:-10],
        ]
    )
    seen: set[str] = set()
    parts = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    items: list[CollectedLine] = [
        item
        async for item in parse_stream(_chunks(parts), RequestKind.CHAT, source="output", seen=seen)
    ]
    ok = [item.custom_id for item in items if isinstance(item, LlmResult)]
    bad = [
        (item.line, item.reason, item.custom_id)
        for item in items
        if isinstance(item, MalformedLine)
    ]
    assert ok == ["a", "b"]
    assert bad == [
        (2, "output file: invalid JSON", None),
        (3, "output file: invalid UTF-8", None),
        (5, "output file: duplicate custom_id", "a"),
        (6, "output file: not a JSON object", None),
        (7, "output file: truncated line", "c"),
    ]
    assert seen == {"a", "b"}


def _chat(custom_id: str, text: str = "hi") -> LlmRequest:
    return LlmRequest(custom_id=custom_id, messages=(Message("user", text),), model="gpt-4o-mini")


def test_write_lines_streams_exact_bytes() -> None:
    requests = [_chat("a"), _chat("b", "naïve ✓")]
    file = io.BytesIO()
    kind, count, size = write_lines(iter(requests), file)
    data = file.getvalue()
    assert (kind, count, size) == (RequestKind.CHAT, 2, len(data))
    assert data == b"".join(encode_line(request) for request in requests)
    first = msgspec.json.decode(data.splitlines()[0])
    assert first == {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    }


def test_write_lines_refuses_empty_and_mixed_batches() -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_lines([], io.BytesIO())
    embedding = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="x")
    with pytest.raises(ValueError, match="single kind"):
        write_lines([_chat("a"), embedding], io.BytesIO())
