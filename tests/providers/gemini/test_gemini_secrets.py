"""The key travels in `x-goog-api-key` only: never in a URL, a log, an exception or a repr."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
import structlog
from aiohttp import web
from batchery.model import LlmRequest, LlmResult, Message, RequestKind
from batchery.secrets import Secret
from batchery.spi import ProviderError
from batchery_gemini import GeminiOptions, GeminiProvider, create_session
from batchery_gemini.emulator import PENDING_S, GeminiEmulator

from .conftest import LaunchGemini


def _chats(count: int) -> list[LlmRequest]:
    return [
        LlmRequest(custom_id=f"s-{i}", messages=(Message("user", f"secret test {i}"),))
        for i in range(count)
    ]


async def test_a_whole_lifecycle_never_puts_the_key_in_a_url_or_a_log(
    launch_gemini: LaunchGemini, gemini_key: str
) -> None:
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        emulator, provider = await launch_gemini("http_429,line_error=0.3,batch_404=1")
        texts.append(repr(provider))
        for inline, tag in ((20_000_000, "inline"), (0, "file")):
            _, each = await launch_gemini(inline_max_bytes=inline)
            state = await each.submit_batch(_chats(4), tag=tag)
            texts.append(repr(state))
        state = await provider.submit_batch(_chats(6), tag="faulty")
        with pytest.raises(ProviderError) as missing:
            await provider.get_batch(state.batch_id)
        texts.append(str(missing.value))
        emulator.clock.advance(PENDING_S + 10)
        state = await provider.get_batch(state.batch_id)
        async for item in provider.collect(state):
            texts.append(repr(item))
        texts.append(repr(await provider.find_batch("faulty", created_after=0)))
        texts.append(repr(await provider.cancel_batch(state.batch_id)))
        texts.append(repr(await provider.call(_chats(1)[0])))
    texts.extend(repr(entry) for entry in logs)
    assert logs
    assert all(gemini_key not in text for text in texts)
    urls = [entry.url for entry in emulator.requests()]
    assert urls
    assert all(gemini_key not in url and "key=" not in url for url in urls)
    assert all(e.key_header for e in emulator.requests() if "upload_id=" not in e.url)


@pytest.fixture
async def echoing() -> AsyncIterator[str]:
    """A server that repeats the key it receives in every error message, as a careless one might."""

    async def handler(request: web.Request) -> web.Response:
        echoed = request.headers.get("x-goog-api-key", "")
        status = 500 if request.method == "GET" else 400
        body = {"error": {"code": status, "message": f"key {echoed} refused", "status": "X"}}
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_keys_echoed_back_by_a_server_are_redacted(echoing: str) -> None:
    key = "odd-canary-that-looks-like-nothing-42"
    options = GeminiOptions(
        api_key=Secret(key), base_url=echoing, max_get_attempts=1, inline_max_bytes=0
    )
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        async with create_session(options) as session:
            provider = GeminiProvider(options, session)
            result = await provider.call(_chats(1)[0])
            embed = await provider.call(
                LlmRequest(custom_id="e", kind=RequestKind.EMBEDDING, input="x")
            )
            texts.extend([repr(result), repr(embed)])
            for attempt in (
                provider.get_batch("batches/x"),
                provider.submit_batch(_chats(2), tag="t"),
                provider.find_batch("t", created_after=0),
            ):
                with pytest.raises(ProviderError) as caught:
                    await attempt
                texts.extend([str(caught.value), repr(caught.value.args)])
    assert isinstance(result, LlmResult)
    assert result.error is not None
    assert "[redacted]" in result.error.message
    texts.extend(repr(entry) for entry in logs)
    assert all(key not in text for text in texts)


async def test_the_emulator_never_echoes_a_wrong_key() -> None:
    wrong = "AIzaSyWRONGcanary0123456789abcdefghijk"
    async with GeminiEmulator(api_key="right") as emulator:
        options = GeminiOptions(api_key=Secret(wrong), base_url=emulator.base_url)
        async with create_session(options) as session:
            result = await GeminiProvider(options, session).call(_chats(1)[0])
    assert result.error is not None
    assert wrong not in msgspec.json.encode(result).decode()
    assert wrong not in repr(emulator)
