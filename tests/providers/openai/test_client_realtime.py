"""Realtime calls against a scripted loopback server: answers, classified errors, and secrets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
import structlog
from aiohttp import web
from batchery.model import LlmRequest, Message, Mode, RequestKind
from batchery.secrets import Secret
from batchery.spi import ProviderError
from batchery_openai._options import OpenAIOptions, create_session
from batchery_openai._provider import OpenAIProvider

from ..conftest import Opened, closed_origin

KEY = "sk-proj-REALTIMEcanary0123456789abcdef"
Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def serve(opened: Opened) -> Callable[..., Awaitable[OpenAIProvider]]:
    """Serve one handler on every path and hand back a provider pointed at it."""

    async def start(reply: Reply, **overrides: Any) -> OpenAIProvider:
        server = await opened.answering(reply)
        options = OpenAIOptions(api_key=Secret(KEY), base_url=str(server.make_url("/v1")))
        options = msgspec.structs.replace(options, **overrides)
        return OpenAIProvider(options, opened.session(create_session(options)))

    return start


def _chat(custom_id: str = "q") -> LlmRequest:
    return LlmRequest(custom_id=custom_id, messages=(Message("user", "hi"),), max_tokens=5)


def _answer(status: int, body: object, **headers: str) -> Reply:
    async def reply(request: web.Request) -> web.Response:
        return web.Response(
            status=status,
            body=msgspec.json.encode(body),
            headers=headers,
            content_type="application/json",
        )

    return reply


def _error(type_: str | None, code: str | None) -> object:
    return {"error": {"message": f"no luck, {KEY}", "type": type_, "param": None, "code": code}}


async def test_chat_call_sends_the_body_and_reads_the_answer(serve: Any) -> None:
    seen: dict[str, Any] = {}

    async def reply(request: web.Request) -> web.Response:
        seen.update(
            path=request.path, body=await request.json(), auth=request.headers["Authorization"]
        )
        body = {
            "model": "gpt-4o-mini",
            "choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 1},
        }
        return web.json_response(body)

    provider = await serve(reply)
    result = await provider.call(_chat())
    assert (result.ok, result.text, result.mode, result.usage.input_tokens) == (
        True,
        "hello",
        Mode.REALTIME,
        4,
    )
    assert seen == {
        "path": "/v1/chat/completions",
        "auth": f"Bearer {KEY}",
        "body": {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "max_completion_tokens": 5,
        },
    }


async def test_embedding_call_asks_for_floats(serve: Any) -> None:
    seen: dict[str, Any] = {}

    async def reply(request: web.Request) -> web.Response:
        seen.update(path=request.path, body=await request.json())
        return web.json_response({"data": [{"index": 0, "embedding": [0.25, 0.5]}], "usage": {}})

    provider = await serve(reply)
    request = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="text")
    result = await provider.call(request)
    assert result.vector == (0.25, 0.5)
    assert seen["path"] == "/v1/embeddings"
    assert seen["body"]["encoding_format"] == "float"


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "retryable", "wait"),
    [
        (
            429,
            _error("requests", "rate_limit_exceeded"),
            {"retry-after": "7"},
            "rate_limited",
            True,
            7.0,
        ),
        (
            429,
            _error("tokens", "rate_limit_exceeded"),
            {"retry-after-ms": "1276"},
            "rate_limited",
            True,
            1.276,
        ),
        (
            429,
            _error("insufficient_quota", "insufficient_quota"),
            {"retry-after": "7"},
            "insufficient_quota",
            False,
            None,
        ),
        (503, _error("server_error", None), {}, "overloaded", True, None),
        (500, {"unexpected": True}, {}, "server_error", True, None),
        (502, "<html>bad gateway</html>", {}, "server_error", True, None),
        (400, _error("invalid_request_error", None), {}, "invalid_request", False, None),
        (
            404,
            _error("invalid_request_error", "model_not_found"),
            {},
            "invalid_request",
            False,
            None,
        ),
        (422, _error(None, None), {}, "invalid_request", False, None),
        (401, _error("invalid_request_error", "invalid_api_key"), {}, "auth", False, None),
        (403, _error(None, None), {}, "permission_denied", False, None),
    ],
)
async def test_errors_are_classified_by_type_code_and_status(
    serve: Any,
    status: int,
    body: object,
    headers: dict[str, str],
    code: str,
    retryable: bool,
    wait: float | None,
) -> None:
    provider = await serve(_answer(status, body, **headers))
    result = await provider.call(_chat())
    assert not result.ok
    assert result.error is not None
    assert (result.error.code, result.error.retryable, result.error.retry_after_s) == (
        code,
        retryable,
        wait,
    )
    assert result.error.status == status
    assert KEY not in result.error.message


async def test_timeout_is_a_retryable_failure(serve: Any) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    provider = await serve(slow, request_timeout_s=0.2)
    result = await provider.call(_chat())
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("timeout", True)


async def test_refused_connection_is_a_retryable_failure() -> None:
    origin = closed_origin()
    options = OpenAIOptions(api_key=Secret(KEY), base_url=f"{origin}/v1")
    async with create_session(options) as session:
        result = await OpenAIProvider(options, session).call(_chat())
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("connection_error", True)


async def test_unreadable_answer_and_unservable_request(serve: Any) -> None:
    calls = 0

    async def reply(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.json_response({"choices": "nope"})

    provider = await serve(reply)
    garbled = await provider.call(_chat())
    assert garbled.error is not None
    assert (garbled.error.code, garbled.error.retryable) == ("bad_response", True)
    rerank = await provider.call(LlmRequest(custom_id="r", kind=RequestKind.RERANK, query="q"))
    assert rerank.error is not None
    assert (rerank.error.code, rerank.error.retryable) == ("invalid_request", False)
    assert calls == 1


async def test_check_names_the_broken_rule() -> None:
    async with create_session(OpenAIOptions()) as session:
        provider = OpenAIProvider(OpenAIOptions(), session)
        assert provider.check(_chat("x" * 64)) is None
        assert "64" in (provider.check(_chat("x" * 65)) or "")
        assert "rerank" in (
            provider.check(LlmRequest(custom_id="r", kind=RequestKind.RERANK)) or ""
        )
        assert "message" in (provider.check(LlmRequest(custom_id="c")) or "")
        empty = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="")
        assert "input" in (provider.check(empty) or "")
        assert "temperature" in (
            provider.check(msgspec.structs.replace(_chat(), temperature=3.0)) or ""
        )


async def test_canary_key_never_reaches_messages_or_logs(serve: Any) -> None:
    async def echo_key(request: web.Request) -> web.Response:
        body = _error("server_error", None)
        return web.Response(
            status=503, body=msgspec.json.encode(body), content_type="application/json"
        )

    provider = await serve(
        echo_key, max_get_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.002
    )
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        result = await provider.call(_chat())
        assert result.error is not None
        texts.append(result.error.message)
        for attempt in (
            provider.get_batch("b"),
            provider.cancel_batch("b"),
            provider.find_batch("t", created_after=0),
        ):
            with pytest.raises(ProviderError) as caught:
                await attempt
            texts += [str(caught.value), repr(caught.value), caught.value.message]
        with pytest.raises(ProviderError) as caught:
            await provider.submit_batch([_chat()], tag="t")
        texts += [str(caught.value), repr(caught.value)]
    assert any(entry["event"] == "openai.retry" for entry in logs)
    texts += [repr(entry) for entry in logs]
    texts.append(repr(provider))
    for text in texts:
        assert KEY not in text
        assert KEY[:16] not in text
