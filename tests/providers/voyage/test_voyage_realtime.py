"""Realtime calls against a scripted loopback server: bodies sent, answers read, errors
classified, and the key kept out of everything but the header."""

from __future__ import annotations

import base64
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
import structlog
from aiohttp import web
from batchery.model import LlmRequest, Message, Mode, RequestKind
from batchery.secrets import Secret
from batchery_voyage import VoyageOptions, VoyageProvider, create_session

from ..conftest import Opened, closed_origin

KEY = "pa-REALTIMEcanary0123456789abcdef"
Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[..., Awaitable[VoyageProvider]]


@pytest.fixture
def serve(opened: Opened) -> Serve:
    """Serve one handler on every path and hand back a provider pointed at it."""

    async def start(reply: Reply, **overrides: Any) -> VoyageProvider:
        server = await opened.answering(reply)
        options = VoyageOptions(api_key=Secret(KEY), base_url=str(server.make_url("/v1")))
        options = msgspec.structs.replace(options, **overrides)
        return VoyageProvider(options, opened.session(create_session(options)))

    return start


def _answer(status: int, body: object, **headers: str) -> Reply:
    async def reply(request: web.Request) -> web.Response:
        return web.Response(
            status=status,
            body=msgspec.json.encode(body),
            headers=headers,
            content_type="application/json",
        )

    return reply


def _recording(seen: dict[str, Any], body: object) -> Reply:
    async def reply(request: web.Request) -> web.Response:
        seen.update(
            path=request.path, body=await request.json(), auth=request.headers["Authorization"]
        )
        return web.json_response(body)

    return reply


def _b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def _embedding(custom_id: str = "e", **fields: Any) -> LlmRequest:
    fields = {"input": "hello", "model": "voyage-4", **fields}
    return LlmRequest(custom_id=custom_id, kind=RequestKind.EMBEDDING, **fields)


async def test_embedding_call_sends_base64_request_and_decodes_it(serve: Serve) -> None:
    seen: dict[str, Any] = {}
    body = {
        "object": "list",
        "data": [{"object": "embedding", "embedding": _b64([0.25, -0.5]), "index": 0}],
        "model": "voyage-4",
        "usage": {"total_tokens": 2},
    }
    provider = await serve(_recording(seen, body))
    result = await provider.call(_embedding(input_type="query"))
    assert seen == {
        "path": "/v1/embeddings",
        "body": {
            "model": "voyage-4",
            "input": ["hello"],
            "input_type": "query",
            "truncation": True,
            "encoding_format": "base64",
        },
        "auth": f"Bearer {KEY}",
    }
    assert (result.ok, result.mode, result.provider) == (True, Mode.REALTIME, "voyage")
    assert result.vector == (0.25, -0.5)
    assert result.usage.input_tokens == 2


async def test_embedding_call_without_base64_reads_number_lists(serve: Serve) -> None:
    seen: dict[str, Any] = {}
    body = {"data": [{"embedding": [0.1, 0.2], "index": 0}], "usage": {"total_tokens": 1}}
    provider = await serve(_recording(seen, body), base64=False)
    result = await provider.call(_embedding())
    assert "encoding_format" not in seen["body"]
    assert result.vector == (0.1, 0.2)


async def test_contextual_call_gets_one_vector_per_chunk(serve: Serve) -> None:
    seen: dict[str, Any] = {}
    body = {
        "object": "list",
        "data": [
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "embedding": _b64([1.0]), "index": 1},
                    {"object": "embedding", "embedding": _b64([0.5]), "index": 0},
                ],
                "index": 0,
            }
        ],
        "model": "voyage-context-3",
        "usage": {"total_tokens": 5},
    }
    provider = await serve(_recording(seen, body))
    request = LlmRequest(
        custom_id="c", kind=RequestKind.CONTEXTUAL_EMBEDDING, chunks=("a", "b"), input_type="query"
    )
    result = await provider.call(request)
    assert seen["path"] == "/v1/contextualizedembeddings"
    assert seen["body"]["inputs"] == [["a", "b"]]
    assert result.vectors == ((0.5,), (1.0,))


async def test_contextual_answer_with_the_wrong_chunk_count_is_an_error(serve: Serve) -> None:
    body = {"data": [{"data": [{"embedding": [1.0]}]}], "usage": {"total_tokens": 1}}
    provider = await serve(_answer(200, body))
    request = LlmRequest(custom_id="c", kind=RequestKind.CONTEXTUAL_EMBEDDING, chunks=("a", "b"))
    result = await provider.call(request)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("bad_response", True)


async def test_rerank_call_reorders_ranked_answer_into_document_order(serve: Serve) -> None:
    seen: dict[str, Any] = {}
    body = {
        "object": "list",
        "data": [{"index": 2, "relevance_score": 0.8}, {"index": 0, "relevance_score": 0.4}],
        "model": "rerank-2.5",
        "usage": {"total_tokens": 30},
    }
    provider = await serve(_recording(seen, body))
    request = LlmRequest(
        custom_id="r", kind=RequestKind.RERANK, query="q", documents=("a", "b", "c"), top_k=2
    )
    result = await provider.call(request)
    assert seen["path"] == "/v1/rerank"
    assert seen["body"] == {
        "model": "rerank-2.5",
        "query": "q",
        "documents": ["a", "b", "c"],
        "top_k": 2,
        "truncation": True,
    }
    assert result.scores == (0.4, 0.0, 0.8)
    assert result.usage.input_tokens == 30


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (400, "invalid_request", False),
        (401, "auth", False),
        (403, "permission_denied", False),
        (422, "invalid_request", False),
        (500, "server_error", True),
        (502, "unavailable", True),
        (503, "unavailable", True),
    ],
)
async def test_error_answers_come_back_classified(
    serve: Serve, status: int, code: str, retryable: bool
) -> None:
    provider = await serve(_answer(status, {"detail": f"no luck with {KEY}"}))
    result = await provider.call(_embedding())
    assert not result.ok
    assert result.error is not None
    assert (result.error.code, result.error.retryable, result.error.status) == (
        code,
        retryable,
        status,
    )
    assert KEY not in result.error.message
    assert "no luck" in result.error.message


async def test_a_rate_limit_carries_retry_after(serve: Serve) -> None:
    provider = await serve(_answer(429, {"detail": "Rate limit exceeded"}, **{"retry-after": "7"}))
    result = await provider.call(_embedding())
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("rate_limited", True)
    assert result.error.retry_after_s == 7.0


async def test_a_non_json_error_body_is_still_classified(serve: Serve) -> None:
    async def reply(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")

    provider = await serve(reply)
    result = await provider.call(_embedding())
    assert result.error is not None
    assert (result.error.code, result.error.retryable, result.error.message) == (
        "unavailable",
        True,
        "HTTP 502",
    )


async def test_an_unreadable_answer_is_a_retryable_error(serve: Serve) -> None:
    provider = await serve(_answer(200, {"unexpected": True}))
    result = await provider.call(_embedding())
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("bad_response", True)


async def test_an_unreachable_server_is_a_retryable_connection_error() -> None:
    origin = closed_origin()
    options = VoyageOptions(api_key=Secret(KEY), base_url=f"{origin}/v1")
    async with create_session(options) as session:
        result = await VoyageProvider(options, session).call(_embedding())
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("connection_error", True)
    assert KEY not in result.error.message


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            LlmRequest(custom_id="x", messages=(Message("user", "hi"),)),
            "Voyage does not serve chat requests",
        ),
        (_embedding(input=""), "non-empty input"),
        (_embedding(input_type="passage"), "input_type must be"),
        (
            LlmRequest(custom_id="x", kind=RequestKind.CONTEXTUAL_EMBEDDING, chunks=("a", "")),
            "must be non-empty",
        ),
        (
            LlmRequest(custom_id="x", kind=RequestKind.CONTEXTUAL_EMBEDDING, chunks=()),
            "at least one chunk",
        ),
        (
            LlmRequest(custom_id="x", kind=RequestKind.RERANK, query="q", documents=("d",) * 1001),
            "at most 1000 documents",
        ),
        (
            LlmRequest(
                custom_id="x", kind=RequestKind.RERANK, query="q", documents=("d",), top_k=0
            ),
            "top_k must be at least 1",
        ),
        (LlmRequest(custom_id="x", kind=RequestKind.RERANK, query="q"), "needs a query"),
    ],
)
async def test_requests_voyage_would_refuse_never_leave(
    serve: Serve, request_: LlmRequest, message: str
) -> None:
    calls: list[str] = []

    async def reply(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.json_response({})

    provider = await serve(reply)
    assert message in (provider.check(request_) or "")
    result = await provider.call(request_)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("invalid_request", False)
    assert message in result.error.message
    assert calls == []


async def test_the_key_stays_out_of_logs_results_and_reprs(serve: Serve) -> None:
    provider = await serve(_answer(401, {"detail": f"bad key {KEY}"}))
    with structlog.testing.capture_logs() as logs:
        result = await provider.call(_embedding())
    texts = [repr(provider), repr(result), str(result), repr(logs)]
    assert not [text for text in texts if KEY in text or KEY[:16] in text]
