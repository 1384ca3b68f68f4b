"""Realtime calls: answers, and every error class, from the emulator and a scripted server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from batchery.model import LlmRequest, Message, Mode, RequestKind
from batchery.secrets import Secret
from batchery.spi import ProviderError
from batchery_gemini import GeminiOptions, GeminiProvider, create_session

from .conftest import LaunchGemini

SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["verdict"],
}
ASK = LlmRequest(custom_id="r-1", messages=(Message("user", "Is the sky blue?"),))

Scripted = Callable[[int, Any], web.Response]


async def test_chat_answers_are_deterministic_and_follow_the_schema(
    launch_gemini: LaunchGemini,
) -> None:
    _, provider = await launch_gemini()
    first, second = await provider.call(ASK), await provider.call(ASK)
    assert first.ok, first.error
    assert (first.mode, first.provider) == (Mode.REALTIME, "gemini")
    assert first.text == second.text
    assert "Is the sky blue?" in (first.text or "")
    assert first.usage.input_tokens > 0
    assert first.usage.output_tokens > 0
    structured = await provider.call(msgspec.structs.replace(ASK, response_schema=SCHEMA))
    assert msgspec.json.decode(structured.text or "")["verdict"] in ("yes", "no")
    short = await provider.call(msgspec.structs.replace(ASK, max_tokens=2))
    assert short.ok
    assert len(short.text or "") <= 8


async def test_embeddings_are_deterministic_unit_vectors(launch_gemini: LaunchGemini) -> None:
    _, provider = await launch_gemini()
    request = LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="alpha")
    one, two = await provider.call(request), await provider.call(request)
    query = await provider.call(msgspec.structs.replace(request, input_type="query"))
    assert one.vector is not None
    assert one.vector == two.vector
    assert query.vector != one.vector
    assert sum(x * x for x in one.vector) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("faults", "code", "status", "retry_after"),
    [
        ("http_429,retry_after=7", "rate_limited", 429, 7.0),
        ("http_500", "server_error", 500, None),
        ("http_503", "overloaded", 503, None),
    ],
)
async def test_injected_faults_are_classified_retryable(
    launch_gemini: LaunchGemini, faults: str, code: str, status: int, retry_after: float | None
) -> None:
    _, provider = await launch_gemini(faults)
    result = await provider.call(ASK)
    assert not result.ok
    assert result.error is not None
    assert (result.error.code, result.error.status, result.error.retryable) == (code, status, True)
    assert result.error.retry_after_s == retry_after


async def test_a_wrong_key_is_a_permanent_auth_error(launch_gemini: LaunchGemini) -> None:
    _, provider = await launch_gemini(key="AIzaSyWRONGkey0123456789abcdefghijklmn")
    result = await provider.call(ASK)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("auth", False)


async def test_invalid_requests_fail_before_any_call(launch_gemini: LaunchGemini) -> None:
    emulator, provider = await launch_gemini()
    result = await provider.call(LlmRequest(custom_id="x", messages=(Message("system", "s"),)))
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("invalid_request", False)
    assert emulator.requests() == []


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Scripted], Any]]:
    """A server answering each call with `script(call_number, parsed_body)`."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def serve(script: Scripted, **settings: Any) -> tuple[GeminiProvider, list[str]]:
        seen: list[str] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append(request.raw_path)
            return script(len(seen), msgspec.json.decode(await request.read() or b"null"))

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        options = GeminiOptions(
            api_key=Secret("scripted-key"), base_url=f"http://{host}:{port}", **settings
        )
        sessions.append(create_session(options))
        return GeminiProvider(options, sessions[-1]), seen

    yield serve
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


def _error(http: int, status: str, message: str = "m", details: Any = None) -> web.Response:
    body: dict[str, Any] = {"code": http, "message": message, "status": status}
    if details:
        body["details"] = details
    return web.json_response({"error": body}, status=http)


@pytest.mark.parametrize(
    ("response", "code", "retryable"),
    [
        (lambda: _error(400, "INVALID_ARGUMENT"), "invalid_request", False),
        (lambda: _error(403, "PERMISSION_DENIED"), "permission_denied", False),
        (lambda: _error(404, "NOT_FOUND"), "not_found", False),
        (lambda: _error(500, "INTERNAL"), "server_error", True),
        (lambda: _error(504, "DEADLINE_EXCEEDED"), "timeout", True),
        (lambda: web.Response(status=502, text="<html>bad gateway</html>"), "overloaded", True),
        (lambda: web.json_response({"unexpected": True}), "bad_response", True),
        (lambda: web.Response(status=200, text="{not json"), "bad_response", True),
    ],
)
async def test_realtime_errors_classify(
    scripted: Callable[[Scripted], Any],
    response: Callable[[], web.Response],
    code: str,
    retryable: bool,
) -> None:
    provider, seen = await scripted(lambda _n, _body: response())
    result = await provider.call(ASK)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == (code, retryable)
    assert seen == ["/v1beta/models/gemini-2.5-flash:generateContent"]


async def test_retry_info_reaches_the_result(scripted: Callable[[Scripted], Any]) -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]
    provider, _ = await scripted(lambda _n, _b: _error(429, "RESOURCE_EXHAUSTED", "q", details))
    result = await provider.call(ASK)
    assert result.error is not None
    assert (result.error.code, result.error.retry_after_s) == ("rate_limited", 2.5)


async def test_the_embed_content_call_and_its_body(scripted: Callable[[Scripted], Any]) -> None:
    bodies: list[Any] = []

    def answer(_n: int, body: Any) -> web.Response:
        bodies.append(body)
        return web.json_response({"embedding": {"values": [1.0, 0.0]}})

    provider, seen = await scripted(answer)
    request = LlmRequest(
        custom_id="e", kind=RequestKind.EMBEDDING, input="doc", model="text-embedding-004"
    )
    result = await provider.call(request)
    assert (result.vector, result.model) == ((1.0, 0.0), "text-embedding-004")
    assert seen == ["/v1beta/models/text-embedding-004:embedContent"]
    assert bodies == [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "doc"}]}}
    ]


async def test_gets_retry_transient_errors_but_creates_are_sent_once(
    scripted: Callable[[Scripted], Any],
) -> None:
    def flaky(number: int, _body: Any) -> web.Response:
        if number == 1:
            return _error(503, "UNAVAILABLE")
        return web.json_response(
            {"name": "batches/b1", "metadata": {"state": "BATCH_STATE_RUNNING"}}
        )

    provider, seen = await scripted(flaky, backoff_initial_s=0.01)
    state = await provider.get_batch("batches/b1")
    assert state.batch_id == "batches/b1"
    assert seen == ["/v1beta/batches/b1", "/v1beta/batches/b1"]

    creates, calls = await scripted(lambda _n, _b: _error(503, "UNAVAILABLE"))
    with pytest.raises(ProviderError) as caught:
        await creates.submit_batch([ASK], tag="once")
    assert (caught.value.retryable, caught.value.code) == (True, "overloaded")
    assert calls == ["/v1beta/models/gemini-2.5-flash:batchGenerateContent"]


async def test_connection_failures_are_retryable() -> None:
    options = GeminiOptions(api_key=Secret("k"), base_url="http://127.0.0.1:9", request_timeout_s=2)
    async with create_session(options) as session:
        result = await GeminiProvider(options, session).call(ASK)
    assert result.error is not None
    assert (result.error.code, result.error.retryable) == ("connection_error", True)
