"""The client's HTTP against a scripted server: retries, the single create, paging, results."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
import structlog
from aiohttp import web
from batchery.model import BatchStatus, LlmRequest, LlmResult, Message
from batchery.secrets import Secret
from batchery.spi import ProviderError
from batchery_anthropic import AnthropicOptions, AnthropicProvider, create_session

from ..conftest import Opened

KEY = "sk-ant-api03-HTTPcanary0123456789abcdefghij"
Routes = dict[tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]]
Serve = Callable[[Routes], Awaitable[tuple[AnthropicProvider, list[web.Request]]]]


def stamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")


def batch(
    batch_id: str, *, created: float, total: int = 2, ended: bool = False, **extra: Any
) -> dict[str, Any]:
    counts = {
        "processing": 0 if ended else total,
        "succeeded": total if ended else 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    body = {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": counts,
        "created_at": stamp(created),
        "expires_at": stamp(created + 86400),
        "ended_at": stamp(created + 5) if ended else None,
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": None,
    }
    body.update(extra)
    return body


def reply(
    status: int, body: Any, **headers: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        payload = msgspec.json.encode(body)
        return web.Response(
            status=status, body=payload, headers=headers, content_type="application/json"
        )

    return handler


def sequence(
    *handlers: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    queue = list(handlers)

    async def handler(request: web.Request) -> web.Response:
        return await (queue.pop(0) if len(queue) > 1 else queue[0])(request)

    return handler


@pytest.fixture
def serve(opened: Opened) -> Serve:
    async def start(routes: Routes) -> tuple[AnthropicProvider, list[web.Request]]:
        seen: list[web.Request] = []

        async def dispatch(request: web.Request) -> web.StreamResponse:
            seen.append(request)
            handler = routes.get((request.method, request.path))
            if handler is None:
                return web.json_response(
                    {"type": "error", "error": {"type": "not_found_error", "message": "no"}},
                    status=404,
                )
            return await handler(request)

        server = await opened.answering(dispatch)
        options = AnthropicOptions(
            api_key=Secret(KEY),
            base_url=str(server.make_url("")),
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
        )
        return AnthropicProvider(options, opened.session(create_session(options))), seen

    return start


def chats(n: int) -> list[LlmRequest]:
    return [LlmRequest(custom_id=f"c{i}", messages=(Message("user", "x"),)) for i in range(n)]


async def test_the_create_is_one_post_never_repeated(serve: Serve) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    provider, seen = await serve({("POST", "/v1/messages/batches"): reply(529, overloaded)})
    with pytest.raises(ProviderError) as failed:
        await provider.submit_batch(chats(3), tag="t")
    assert (failed.value.code, failed.value.retryable, failed.value.status) == (
        "overloaded",
        True,
        529,
    )
    assert len(seen) == 1
    assert seen[0].headers["x-api-key"] == KEY
    assert seen[0].headers["anthropic-version"] == "2023-06-01"


async def test_the_create_body_holds_the_requests_inline(serve: Serve) -> None:
    bodies: list[Any] = []

    async def create(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response(batch("msgbatch_1", created=time.time()))

    provider, _ = await serve({("POST", "/v1/messages/batches"): create})
    odd = LlmRequest(custom_id="a/b", messages=(Message("user", "y"),), max_tokens=9)
    requests = [*chats(2), odd]
    state = await provider.submit_batch(requests, tag="t")
    assert (state.batch_id, state.total, state.tag) == ("msgbatch_1", 2, "t")
    [body] = bodies
    assert [r["custom_id"] for r in body["requests"]] == ["c0", "c1", "_b64_YS9i"]
    assert body["requests"][2]["params"] == {
        "model": "claude-haiku-4-5",
        "max_tokens": 9,
        "messages": [{"role": "user", "content": "y"}],
    }
    with pytest.raises(ValueError, match="at least one request"):
        await provider.submit_batch([], tag="t")


async def test_reads_are_retried_and_honour_retry_after(serve: Serve) -> None:
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    provider, seen = await serve(
        {
            ("GET", "/v1/messages/batches/msgbatch_1"): sequence(
                reply(429, limited, **{"retry-after": "0.05"}),
                reply(500, {"type": "error", "error": {"type": "api_error", "message": "x"}}),
                reply(200, batch("msgbatch_1", created=time.time())),
            )
        }
    )
    started = time.monotonic()
    state = await provider.get_batch("msgbatch_1")
    assert state.status is BatchStatus.IN_PROGRESS
    assert len(seen) == 3
    assert time.monotonic() - started >= 0.05


async def test_reads_give_up_on_permanent_errors_and_long_waits(serve: Serve) -> None:
    denied = {"type": "error", "error": {"type": "permission_error", "message": "no"}}
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "wait"}}
    provider, seen = await serve(
        {
            ("GET", "/v1/messages/batches/a"): reply(403, denied),
            ("GET", "/v1/messages/batches/b"): reply(429, limited, **{"retry-after": "600"}),
        }
    )
    with pytest.raises(ProviderError) as forbidden:
        await provider.get_batch("a")
    assert forbidden.value.code == "permission_denied"
    with pytest.raises(ProviderError) as waiting:
        await provider.get_batch("b")
    assert waiting.value.retry_after_s == 600
    assert len(seen) == 2


async def test_find_batch_pages_newest_first_until_too_old(serve: Serve) -> None:
    now = time.time()
    first = [batch("m5", created=now, total=5), batch("m4", created=now - 10, total=4)]
    second = [batch("m3", created=now - 20, total=3), batch("m2", created=now - 9999, total=2)]
    pages = {
        None: {"data": first, "has_more": True, "first_id": "m5", "last_id": "m4"},
        "m4": {"data": second, "has_more": True, "first_id": "m3", "last_id": "m2"},
    }

    async def listing(request: web.Request) -> web.Response:
        assert request.query["limit"] == "1000"
        return web.json_response(pages[request.query.get("after_id")])

    provider, seen = await serve({("GET", "/v1/messages/batches"): listing})
    found = await provider.find_batch("t", created_after=now - 100, request_count=3)
    assert found is not None
    assert (found.batch_id, found.tag, found.total) == ("m3", "t", 3)
    assert await provider.find_batch("u", created_after=now - 100, request_count=2) is None
    assert [r.query.get("after_id") for r in seen] == [None, "m4", None, "m4"]


async def test_results_stream_from_the_results_url_with_a_binary_accept(serve: Serve) -> None:
    message = {
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    line = {"custom_id": "c0", "result": {"type": "succeeded", "message": message}}
    payload = (
        msgspec.json.encode(line)
        + b"\r\n"
        + msgspec.json.encode({"custom_id": "c1", "result": {"type": "expired"}})
    )

    async def results(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/binary"})
        await response.prepare(request)
        for start in range(0, len(payload), 7):
            await response.write(payload[start : start + 7])
        await response.write_eof()
        return response

    async def get(request: web.Request) -> web.Response:
        url = f"http://{request.host}/v1/messages/batches/msgbatch_1/results"
        return web.json_response(
            batch("msgbatch_1", created=time.time(), ended=True, results_url=url)
        )

    provider, seen = await serve(
        {
            ("GET", "/v1/messages/batches/msgbatch_1"): get,
            ("GET", "/v1/messages/batches/msgbatch_1/results"): results,
        }
    )
    state = await provider.get_batch("msgbatch_1")
    items = [item async for item in provider.collect(state)]
    assert [(i.custom_id, isinstance(i, LlmResult) and i.ok) for i in items] == [
        ("c0", True),
        ("c1", False),
    ]
    assert seen[-1].headers["Accept"] == "application/binary"
    assert seen[-1].headers["x-api-key"] == KEY


async def test_a_foreign_results_url_never_gets_the_key(serve: Serve) -> None:
    async def get(request: web.Request) -> web.Response:
        foreign = "https://results.example.invalid/v1/messages/batches/msgbatch_1/results?x=1"
        return web.json_response(
            batch("msgbatch_1", created=time.time(), ended=True, results_url=foreign)
        )

    async def results(request: web.Request) -> web.Response:
        return web.Response(body=b'{"custom_id":"c0","result":{"type":"canceled"}}\n')

    provider, seen = await serve(
        {
            ("GET", "/v1/messages/batches/msgbatch_1"): get,
            ("GET", "/v1/messages/batches/msgbatch_1/results"): results,
        }
    )
    with structlog.testing.capture_logs() as logs:
        items = [item async for item in provider.collect(await provider.get_batch("msgbatch_1"))]
    assert [i.custom_id for i in items] == ["c0"]
    assert seen[-1].path == "/v1/messages/batches/msgbatch_1/results"
    warning = next(e for e in logs if e["event"] == "anthropic.results_url.foreign")
    assert warning["host"] == "results.example.invalid"


async def test_collect_refuses_unended_and_archived_batches(serve: Serve) -> None:
    now = time.time()
    provider, _ = await serve(
        {
            ("GET", "/v1/messages/batches/running"): reply(200, batch("running", created=now)),
            ("GET", "/v1/messages/batches/old"): reply(
                200, batch("old", created=now, ended=True, archived_at=stamp(now))
            ),
        }
    )
    with pytest.raises(ProviderError) as running:
        [i async for i in provider.collect(await provider.get_batch("running"))]
    assert (running.value.code, running.value.retryable) == ("not_ended", True)
    with pytest.raises(ProviderError) as archived:
        [i async for i in provider.collect(await provider.get_batch("old"))]
    assert (archived.value.code, archived.value.retryable) == ("results_archived", False)


async def test_cancel_refused_because_ended_returns_the_state(serve: Serve) -> None:
    refused = {"type": "error", "error": {"type": "invalid_request_error", "message": "ended"}}
    provider, _ = await serve(
        {
            ("POST", "/v1/messages/batches/b/cancel"): reply(400, refused),
            ("GET", "/v1/messages/batches/b"): reply(
                200, batch("b", created=time.time(), ended=True)
            ),
            ("POST", "/v1/messages/batches/c/cancel"): reply(400, refused),
            ("GET", "/v1/messages/batches/c"): reply(200, batch("c", created=time.time())),
        }
    )
    assert (await provider.cancel_batch("b")).status is BatchStatus.COMPLETED
    with pytest.raises(ProviderError) as still_running:
        await provider.cancel_batch("c")
    assert still_running.value.code == "invalid_request"


def test_options_repr_hides_the_key() -> None:
    options = AnthropicOptions(api_key=Secret(KEY))
    assert KEY not in repr(options)
    with pytest.raises(ValueError, match="max_get_attempts"):
        AnthropicOptions(max_get_attempts=0)
    with pytest.raises(ValueError, match="default_max_tokens"):
        AnthropicOptions(default_max_tokens=0)
