"""Input lines written exactly, and results files read over any byte split, joined by key."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterable
from typing import Any

import msgspec
import pytest
from batchery.model import LlmRequest, LlmResult, Message, RequestKind
from batchery.secrets import Secret
from batchery.spi import MalformedLine
from batchery_gemini._jsonl import Spooled, encode_line, parse_stream, split_lines
from batchery_gemini._results import Joiner


async def _chunks(data: bytes, sizes: Iterable[int]) -> AsyncIterator[bytes]:
    start = 0
    for size in sizes:
        yield data[start : start + size]
        start += size
    if start < len(data):
        yield data[start:]


def _line(key: str, text: str = "ok") -> bytes:
    body = {
        "key": key,
        "response": {
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}}],
            "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1},
        },
    }
    return msgspec.json.encode(body)


async def _parse(data: bytes, sizes: Iterable[int] = (), **kwargs: Any) -> list[Any]:
    joiner = Joiner()
    return [item async for item in parse_stream(_chunks(data, sizes), joiner, **kwargs)]


def test_encode_line_is_the_key_then_the_request() -> None:
    request = LlmRequest(custom_id="q-1", messages=(Message("user", "Hi"),))
    line = encode_line(request)
    assert line.endswith(b"\n")
    assert msgspec.json.decode(line) == {
        "key": "q-1",
        "request": {"contents": [{"parts": [{"text": "Hi"}], "role": "user"}]},
    }


def test_spooling_counts_bytes_and_refuses_mixed_batches() -> None:
    requests = [LlmRequest(custom_id=f"q{i}", messages=(Message("user", "x"),)) for i in range(3)]
    file = io.BytesIO()
    spooled = Spooled.write(requests, file)
    assert (spooled.kind, spooled.model, spooled.count) == (RequestKind.CHAT, "gemini-2.5-flash", 3)
    assert spooled.size == len(file.getvalue()) == sum(len(encode_line(r)) for r in requests)
    embed = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="x")
    other_model = msgspec.structs.replace(requests[0], custom_id="m", model="gemini-2.5-pro")
    for extra in (embed, other_model):
        with pytest.raises(ValueError, match="single kind and model"):
            Spooled.write([*requests, extra], io.BytesIO())
    with pytest.raises(ValueError, match="at least one"):
        Spooled.write([], io.BytesIO())


async def test_every_split_point_yields_the_same_lines() -> None:
    data = "é🙂 first\r\nsecond\n\nthird".encode()
    expected = [line.data async for line in split_lines(_chunks(data, [len(data)]))]
    assert expected == ["é🙂 first".encode(), b"second", b"", b"third"]
    for cut in range(1, len(data)):
        got = [line.data async for line in split_lines(_chunks(data, [cut]))]
        assert got == expected, cut
    one_by_one = [line.data async for line in split_lines(_chunks(data, [1] * len(data)))]
    assert one_by_one == expected


async def test_a_crlf_pair_split_across_chunks_is_one_terminator() -> None:
    data = b"a\r\nb\r\n"
    lines = [line async for line in split_lines(_chunks(data, [2, 1, 2]))]
    assert [(line.data, line.terminated) for line in lines] == [(b"a", True), (b"b", True)]


async def test_an_overlong_line_is_reported_and_skipped() -> None:
    data = _line("a") + b"\n" + b"x" * 100 + b"\n" + _line("b") + b"\n"
    items = await _parse(data, [7] * 100, max_line_bytes=64)
    assert isinstance(items[0], MalformedLine)
    assert items[0].reason == "results file: line too long"
    assert [i.custom_id for i in items if isinstance(i, LlmResult)] == []
    full = await _parse(data, [len(data)], max_line_bytes=len(_line("a")) + 1)
    assert [i.custom_id for i in full if isinstance(i, LlmResult)] == ["a", "b"]
    assert [i.line for i in full if isinstance(i, MalformedLine)] == [2]


async def test_results_join_by_key_whatever_the_order_and_chunking() -> None:
    keys = [f"k-{i}" for i in (4, 0, 3, 1, 2)]
    data = b"".join(_line(k, f"text {k}") + b"\n" for k in keys)
    for size in (1, 3, 17, len(data)):
        items = await _parse(data, [size] * (len(data) // size + 1))
        assert all(isinstance(i, LlmResult) for i in items)
        by_key = {i.custom_id: i.text for i in items}
        assert by_key == {k: f"text {k}" for k in keys}


async def test_bad_lines_become_malformed_and_the_parse_goes_on() -> None:
    good = _line("good") + b"\n"
    lines = [
        good,
        _line("trunc")[:30] + b"\n",
        b'{"key":"broken", "response": {]\n',
        b'"just a string"\n',
        b"\xff\xfe\x00bad\n",
        msgspec.json.encode({"response": {"candidates": []}}) + b"\n",
        msgspec.json.encode({"key": "neither"}) + b"\n",
        msgspec.json.encode({"key": "wrong", "response": 7}) + b"\n",
        good,
        msgspec.json.encode({"key": 5, "response": {}}) + b"\n",
        _line("last")[:25],
    ]
    items = await _parse(b"".join(lines), [5] * 200)
    assert [i.custom_id for i in items if isinstance(i, LlmResult)] == ["good"]
    reasons = [(i.line, i.reason, i.custom_id) for i in items if isinstance(i, MalformedLine)]
    assert reasons == [
        (2, "results file: truncated entry", "trunc"),
        (3, "results file: invalid JSON", "broken"),
        (4, "results file: not a JSON object", None),
        (5, "results file: invalid UTF-8", None),
        (6, "results file: no key to join on", None),
        (7, "results file: neither response nor error", "neither"),
        (8, "results file: unreadable response", "wrong"),
        (9, "results file: duplicate key", "good"),
        (10, "results file: unexpected entry shape", None),
        (11, "results file: truncated line", "last"),
    ]


async def test_error_lines_are_classified_failures_without_secrets() -> None:
    key = "AIzaSyCANARYjsonl0123456789abcdefghij"
    lines = [
        {"key": "a", "error": {"code": 8, "message": "quota exhausted"}},
        {"key": "b", "error": {"code": 3, "message": f"bad request {key}"}},
        {"key": "c", "status": {"code": 13, "message": "internal"}},
    ]
    data = b"".join(msgspec.json.encode(line) + b"\n" for line in lines)
    items = await _parse(data, secret=Secret(key))
    errors = {i.custom_id: i.error for i in items if isinstance(i, LlmResult)}
    assert {k: (e.code, e.retryable) for k, e in errors.items() if e is not None} == {
        "a": ("rate_limited", True),
        "b": ("invalid_request", False),
        "c": ("server_error", True),
    }
    assert all(key not in (e.message if e else "") for e in errors.values())


async def test_embedding_lines_carry_vectors_and_the_batch_model() -> None:
    line = {"key": "e", "response": {"embedding": {"values": [0.25, 0.5]}}}
    items = await _parse(msgspec.json.encode(line) + b"\n", model="gemini-embedding-001")
    assert len(items) == 1
    result = items[0]
    assert isinstance(result, LlmResult)
    assert (result.vector, result.model) == ((0.25, 0.5), "gemini-embedding-001")


def test_inline_responses_join_on_their_metadata_key() -> None:
    entries = [
        {
            "metadata": {"key": "b"},
            "response": {"candidates": [{"content": {"parts": [{"text": "B"}]}}]},
        },
        {"metadata": {"key": "a"}, "error": {"code": 14, "message": "unavailable"}},
        {"response": {"candidates": [{"content": {"parts": [{"text": "?"}]}}]}},
        {
            "metadata": {"key": "b"},
            "response": {"candidates": [{"content": {"parts": [{"text": "B"}]}}]},
        },
        "not an object",
    ]
    raws = [msgspec.Raw(msgspec.json.encode(entry)) for entry in entries]
    joiner = Joiner()
    items = list(joiner.inline(raws, model="m", secret=None))
    results = {i.custom_id: i for i in items if isinstance(i, LlmResult)}
    assert results["b"].text == "B"
    assert results["a"].error is not None
    assert results["a"].error.code == "overloaded"
    malformed = [(i.line, i.reason) for i in items if isinstance(i, MalformedLine)]
    assert malformed == [
        (3, "inline: no key to join on"),
        (4, "inline: duplicate key"),
        (5, "inline: not a JSON object"),
    ]
    assert (joiner.delivered, joiner.malformed) == (2, 3)
