"""Batch JSONL: input lines sized exactly, and result lines read over any byte split, each bad
line reported on its own while the rest are delivered."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence

import msgspec
import pytest
from batchery.model import LlmRequest, LlmResult, RequestKind
from batchery.secrets import Secret
from batchery.spi import CollectedLine, MalformedLine
from batchery_voyage._jsonl import (
    RawLine,
    encode_line,
    parse_line,
    parse_stream,
    split_lines,
    write_lines,
)

KEY = Secret("pa-JSONLcanary0123456789abcdef")


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _lines(data: bytes, size: int, **kwargs: int) -> list[RawLine]:
    return [line async for line in split_lines(_chunks(data, size), **kwargs)]


def _embedding_line(custom_id: str, vector: Sequence[float] = (0.5, 0.25)) -> bytes:
    return msgspec.json.encode(
        {
            "batch_id": "batch-1",
            "custom_id": custom_id,
            "response": {
                "status_code": 200,
                "body": {
                    "object": "list",
                    "data": [{"object": "embedding", "embedding": list(vector), "index": 0}],
                    "model": "voyage-4",
                    "usage": {"total_tokens": 3},
                },
            },
            "error": None,
        }
    )


def test_written_lines_add_up_to_each_request_encoding() -> None:
    requests = [
        LlmRequest(custom_id=f"e-{i}", kind=RequestKind.EMBEDDING, input="é" * i, model="voyage-4")
        for i in range(1, 5)
    ]
    out = io.BytesIO()
    params, size = write_lines(requests, out)
    assert size == len(out.getvalue()) == sum(len(encode_line(r)) for r in requests)
    assert (params.kind, params.model, params.count) == (RequestKind.EMBEDDING, "voyage-4", 4)
    first = out.getvalue().split(b"\n")[0]
    assert msgspec.json.decode(first) == {"custom_id": "e-1", "body": {"input": ["é"]}}


def test_writing_no_requests_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        write_lines([], io.BytesIO())


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 4096])
async def test_lines_split_on_any_chunking(size: int) -> None:
    data = "a\r\nbé€\nc\r\n\r\nlast".encode()
    lines = await _lines(data, size)
    assert [(line.number, line.data, line.terminated) for line in lines] == [
        (1, b"a", True),
        (2, "bé€".encode(), True),
        (3, b"c", True),
        (4, b"", True),
        (5, b"last", False),
    ]


async def test_a_line_too_long_is_skipped_and_reported() -> None:
    data = b"short\n" + b"x" * 100 + b"\nafter\n" + b"y" * 100
    lines = await _lines(data, 7, max_line_bytes=32)
    assert [(line.number, line.data, line.too_long) for line in lines] == [
        (1, b"short", False),
        (2, b"", True),
        (3, b"after", False),
        (4, b"", True),
    ]


def _parse(data: bytes, kind: RequestKind = RequestKind.EMBEDDING) -> CollectedLine | None:
    return parse_line(RawLine(1, data), kind, source="output", secret=KEY)


def test_an_output_line_becomes_a_batch_result() -> None:
    result = _parse(_embedding_line("e-1"))
    assert isinstance(result, LlmResult)
    assert (result.custom_id, result.ok, result.vector) == ("e-1", True, (0.5, 0.25))
    assert result.mode.value == "batch"
    assert result.usage.input_tokens == 3


def test_an_error_line_with_a_message_is_classified() -> None:
    line = msgspec.json.encode(
        {
            "batch_id": "batch-1",
            "custom_id": "e-9",
            "response": {"status_code": 500, "message": f"Internal Server Error {KEY.reveal()}"},
            "error": None,
        }
    )
    result = _parse(line)
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert (result.ok, result.error.code, result.error.retryable) == (False, "server_error", True)
    assert result.error.status == 500
    assert KEY.reveal() not in result.error.message


def test_an_error_line_with_a_detail_body_is_classified() -> None:
    line = msgspec.json.encode(
        {
            "custom_id": "e-8",
            "response": {"status_code": 400, "body": {"detail": "input too long"}},
        }
    )
    result = _parse(line)
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("invalid_request", False)
    assert result.error.message == "HTTP 400: input too long"


@pytest.mark.parametrize("code", ["batch_expired", "batch_cancelled"])
def test_unrun_requests_are_retryable(code: str) -> None:
    line = msgspec.json.encode(
        {
            "batch_id": "batch-1",
            "custom_id": "e-10",
            "response": None,
            "error": {"code": code, "message": "not executed"},
        }
    )
    result = _parse(line)
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == (code, True)


def test_another_line_error_code_is_permanent() -> None:
    line = b'{"custom_id": "e-11", "response": null, "error": {"code": "invalid_input"}}'
    result = _parse(line)
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("invalid_input", False)


@pytest.mark.parametrize(
    ("data", "reason", "custom_id"),
    [
        (b'{"custom_id": "e-1", "response": {"status_code": 2', "truncated line", "e-1"),
        (b'{custom_id: "e-2"}', "invalid JSON", None),
        (b'"just a string"', "not a JSON object", None),
        (b"\xff\xfe{bad", "invalid UTF-8", None),
        (b'{"response": null}', "missing custom_id", None),
        (b'{"custom_id": "e-3", "response": 7}', "unexpected line shape", "e-3"),
        (b'{"custom_id": "e-4"}', "neither response nor error", "e-4"),
        (
            b'{"custom_id": "e-5", "response": {"status_code": 200, "body": {"data": []}}}',
            "unreadable embedding response body",
            "e-5",
        ),
    ],
)
def test_unreadable_lines_are_reported_with_their_id(
    data: bytes, reason: str, custom_id: str | None
) -> None:
    item = _parse(data)
    assert isinstance(item, MalformedLine)
    assert item.reason == f"output file: {reason}"
    assert item.custom_id == custom_id


def test_a_blank_line_is_nothing() -> None:
    assert _parse(b"   ") is None


def test_rerank_lines_are_trimmed_to_the_batch_top_k() -> None:
    line = msgspec.json.encode(
        {
            "custom_id": "r-1",
            "response": {
                "status_code": 200,
                "body": {
                    "data": [
                        {"index": 2, "relevance_score": 0.9},
                        {"index": 0, "relevance_score": 0.5},
                        {"index": 1, "relevance_score": 0.1},
                    ],
                    "usage": {"total_tokens": 20},
                },
            },
        }
    )
    raw = RawLine(1, line)
    full = parse_line(raw, RequestKind.RERANK, source="output")
    top = parse_line(raw, RequestKind.RERANK, source="output", top_k=1)
    assert isinstance(full, LlmResult)
    assert isinstance(top, LlmResult)
    assert full.scores == (0.5, 0.1, 0.9)
    assert top.scores == (0.0, 0.0, 0.9)


def test_contextual_lines_give_one_vector_per_chunk() -> None:
    line = msgspec.json.encode(
        {
            "custom_id": "c-1",
            "response": {
                "status_code": 200,
                "body": {
                    "data": [{"data": [{"embedding": [1.0], "index": 0}, {"embedding": [2.0]}]}],
                    "usage": {"total_tokens": 4},
                },
            },
        }
    )
    result = parse_line(RawLine(1, line), RequestKind.CONTEXTUAL_EMBEDDING, source="output")
    assert isinstance(result, LlmResult)
    assert result.vectors == ((1.0,), (2.0,))


@pytest.mark.parametrize("size", [1, 3, 17, 100_000])
async def test_a_stream_survives_bad_lines_and_reports_repeats(size: int) -> None:
    data = b"\r\n".join(
        [
            _embedding_line("e-1"),
            b'{"custom_id": "e-2", "resp',
            _embedding_line("e-1"),
            "\u00e9".encode()[:1],
            _embedding_line("e-3", (1.0, -1.0)),
        ]
    )
    seen: set[str] = set()
    items = [
        item
        async for item in parse_stream(
            _chunks(data, size), RequestKind.EMBEDDING, source="output", seen=seen
        )
    ]
    results = [item for item in items if isinstance(item, LlmResult)]
    malformed = [item for item in items if isinstance(item, MalformedLine)]
    assert [r.custom_id for r in results] == ["e-1", "e-3"]
    assert [(m.line, m.reason) for m in malformed] == [
        (2, "output file: truncated line"),
        (3, "output file: duplicate custom_id"),
        (4, "output file: invalid UTF-8"),
    ]
    assert seen == {"e-1", "e-3"}
