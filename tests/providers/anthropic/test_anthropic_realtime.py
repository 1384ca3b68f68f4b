"""Realtime calls: what is sent, and every failure classified by type, never raised."""

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
from batchery.spi import EmulatorOptions
from batchery_anthropic import AnthropicOptions, AnthropicProvider, create_session
from batchery_anthropic.emulator import AnthropicEmulator

from ..conftest import Opened, closed_origin

KEY = "sk-ant-api03-REALTIMEcanary0123456789abcdef"
Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[..., Awaitable[AnthropicProvider]]
MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [{"type": "text", "text": "hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 1},
}


@pytest.fixture
def serve(opened: Opened) -> Serve:
    """Serve one handler on every path and hand back a provider pointed at it."""

    async def start(reply: Reply, **overrides: Any) -> AnthropicProvider:
        server = await opened.answering(reply)
        options = AnthropicOptions(api_key=Secret(KEY), base_url=str(server.make_url("")))
        options = msgspec.structs.replace(options, **overrides)
        return AnthropicProvider(options, opened.session(create_session(options)))

    return start


def chat(custom_id: str = "q") -> LlmRequest:
    return LlmRequest(custom_id=custom_id, messages=(Message("user", "hi"),), max_tokens=5)


def answer(status: int, body: object, **headers: str) -> Reply:
    async def reply(request: web.Request) -> web.Response:
        payload = body if isinstance(body, bytes) else msgspec.json.encode(body)
        return web.Response(
            status=status, body=payload, headers=headers, content_type="application/json"
        )

    return reply


def error_body(kind: str, message: str = "m") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}


async def test_one_post_with_the_documented_headers(serve: Serve) -> None:
    seen: list[tuple[str, str, dict[str, str], Any]] = []

    async def reply(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, dict(request.headers), await request.json()))
        return web.json_response(MESSAGE)

    provider = await serve(reply)
    result = await provider.call(chat("id with space"))
    assert result.ok
    assert (result.custom_id, result.mode, result.provider, result.text) == (
        "id with space",
        Mode.REALTIME,
        "anthropic",
        "hello",
    )
    [(method, path, headers, body)] = seen
    assert (method, path) == ("POST", "/v1/messages")
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers
    assert body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
    }


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (529, error_body("overloaded_error", "Overloaded"), "overloaded", True),
        (200, error_body("overloaded_error", "Overloaded"), "overloaded", True),
        (500, error_body("api_error"), "server_error", True),
        (504, error_body("timeout_error"), "timeout", True),
        (
            400,
            error_body("invalid_request_error", "max_tokens: Field required"),
            "invalid_request",
            False,
        ),
        (401, error_body("authentication_error"), "auth", False),
        (403, error_body("permission_error"), "permission_denied", False),
        (404, error_body("not_found_error", "model: claude-nope"), "not_found", False),
        (413, b"<html>413 Request Entity Too Large</html>", "request_too_large", False),
        (413, error_body("request_too_large"), "request_too_large", False),
        (502, b"<html>Bad gateway</html>", "server_error", True),
        (200, b"{not json", "bad_response", True),
        (200, {"type": "message", "content": [{"type": "text"}]}, "no_content", False),
    ],
)
async def test_failures_are_classified(
    serve: Serve, status: int, body: object, code: str, retryable: bool
) -> None:
    provider = await serve(answer(status, body))
    result = await provider.call(chat())
    assert not result.ok
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == (code, retryable)


async def test_rate_limits_carry_the_wait(serve: Serve) -> None:
    provider = await serve(answer(429, error_body("rate_limit_error"), **{"retry-after": "12"}))
    result = await provider.call(chat())
    assert result.error is not None
    assert (result.error.code, result.error.retryable, result.error.retry_after_s) == (
        "rate_limited",
        True,
        12.0,
    )
    assert result.error.status == 429


async def test_transport_failures_are_retryable(serve: Serve) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response(MESSAGE)

    provider = await serve(slow, request_timeout_s=0.05)
    result = await provider.call(chat())
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("timeout", True)

    origin = closed_origin()
    options = AnthropicOptions(api_key=Secret(KEY), base_url=origin)
    async with create_session(options) as session:
        refused = await AnthropicProvider(options, session).call(chat())
    assert refused.error is not None
    assert (refused.error.code, refused.error.retryable) == ("connection_error", True)
    assert "127.0.0.1" not in refused.error.message


async def test_requests_anthropic_cannot_serve_fail_without_a_call(serve: Serve) -> None:
    calls: list[str] = []

    async def reply(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.json_response(MESSAGE)

    provider = await serve(reply)
    embedding = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="x")
    for request in (embedding, LlmRequest(custom_id="m")):
        result = await provider.call(request)
        assert result.error is not None
        assert (result.error.code, result.error.retryable) == ("invalid_request", False)
    assert calls == []


async def test_the_key_never_leaks(serve: Serve) -> None:
    echo = error_body("authentication_error", f"invalid x-api-key: {KEY}")
    provider = await serve(answer(401, echo))
    with structlog.testing.capture_logs() as logs:
        result = await provider.call(chat())
    assert result.error is not None
    assert KEY not in result.error.message
    assert KEY[:16] not in repr(result)
    assert KEY not in repr(provider)
    assert KEY not in str(logs)


@pytest.fixture
def emulated(opened: Opened) -> Callable[[str], Awaitable[AnthropicProvider]]:
    async def start(faults: str) -> AnthropicProvider:
        emulator = AnthropicEmulator(EmulatorOptions(faults=faults), api_key=KEY)
        await opened.emulator(emulator)
        options = AnthropicOptions(api_key=Secret(KEY), base_url=emulator.base_url)
        return AnthropicProvider(options, opened.session(create_session(options)))

    return start


@pytest.mark.parametrize(
    ("faults", "status", "code", "wait"),
    [
        ("http_429,retry_after=3", 429, "rate_limited", 3.0),
        ("http_500", 500, "server_error", None),
        ("http_503", 503, "server_error", None),
        ("http_529", 529, "overloaded", None),
    ],
)
async def test_emulator_faults_come_back_classified(
    emulated: Callable[[str], Awaitable[AnthropicProvider]],
    faults: str,
    status: int,
    code: str,
    wait: float | None,
) -> None:
    provider = await emulated(faults)
    result = await provider.call(chat())
    assert result.error is not None
    assert (result.error.status, result.error.code, result.error.retryable) == (status, code, True)
    assert result.error.retry_after_s == wait


async def test_realtime_and_batch_give_the_same_answer(
    emulated: Callable[[str], Awaitable[AnthropicProvider]],
) -> None:
    provider = await emulated("")
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 2}
    request = msgspec.structs.replace(chat(), response_schema=schema, max_tokens=100)
    first = await provider.call(request)
    again = await provider.call(msgspec.structs.replace(request, custom_id="other"))
    assert first.ok
    assert first.text == again.text
    assert first.text is not None
    values = msgspec.json.decode(first.text)
    assert isinstance(values, list)
    assert len(values) >= 2
    assert all(isinstance(v, int) for v in values)
