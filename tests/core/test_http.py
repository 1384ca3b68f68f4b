"""`batchery.http` through a made-up provider against a tiny server on loopback.

The providers' own tests cover their auth and error mapping; these pin the shared rules: what
is retried and how long it waits, that a POST is sent once, and that transport failures name the
call without its URL or key.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from batchery.http import HttpPolicy, ProviderHttp, Reply, create_session, fence, retry_after_s
from batchery.model import ErrorInfo
from batchery.secrets import Secret
from batchery.spi import ProviderError
from batchery.store import LeaseLostError

KEY = "acme-CANARYcanary0123456789abcdef"


class AcmeOptions(HttpPolicy, frozen=True, kw_only=True):
    api_key: Secret
    base_url: str


class AcmeHttp(ProviderHttp[AcmeOptions]):
    title = "Acme"
    stream_above = 16

    __slots__ = ()

    def headers(self) -> dict[str, str]:
        return {"x-acme-key": self.options.api_key.reveal()}

    def url(self, path: str) -> str:
        return self.options.base_url + path

    def classify(self, reply: Reply) -> ErrorInfo:
        retryable = reply.status in (408, 429) or reply.status >= 500
        wait = reply.headers.get("retry-after")
        return ErrorInfo(
            code="server_error" if reply.status >= 500 else "invalid_request",
            message=f"HTTP {reply.status}",
            retryable=retryable,
            retry_after_s=float(wait) if wait and retryable else None,
        )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[..., Awaitable[AcmeHttp]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts `handler` on every path and returns a client for it, with fast backoff."""
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(handler: Handler, base_url: str | None = None, **policy: Any) -> AcmeHttp:
        if base_url is None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            base_url = str(server.make_url("")).rstrip("/")
        settings = {"backoff_initial_s": 0.001, "backoff_max_s": 0.002, **policy}
        options = AcmeOptions(api_key=Secret(KEY), base_url=base_url, **settings)
        sessions.append(create_session(options, user_agent="acme-test"))
        return AcmeHttp(options, sessions[-1])

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


def scripted(hits: Counter[str], *statuses: int, **headers: str) -> Handler:
    """Answers with `statuses` in turn, then 200 with the request's path, counting each call."""

    async def handler(request: web.Request) -> web.Response:
        hits[request.method] += 1
        turn = hits[request.method] - 1
        if turn < len(statuses):
            return web.Response(status=statuses[turn], headers=headers)
        return web.Response(body=request.path.encode())

    return handler


def test_policy_rejects_no_attempts_and_non_positive_timeouts() -> None:
    with pytest.raises(ValueError, match="max_get_attempts"):
        HttpPolicy(max_get_attempts=0)
    with pytest.raises(ValueError, match="timeouts"):
        HttpPolicy(request_timeout_s=0)


def test_waits_back_off_with_jitter_and_honour_retry_after_up_to_the_cap() -> None:
    policy = HttpPolicy(max_get_attempts=5, backoff_initial_s=1.0, backoff_max_s=3.0)
    retryable = ProviderError("x", retryable=True)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 3.0), (4, 3.0)]:
        wait = policy.wait_before_retry(attempt, retryable)
        assert wait is not None
        assert 0.75 * base <= wait <= base
    assert policy.wait_before_retry(5, retryable) is None
    assert policy.wait_before_retry(1, ProviderError("x")) is None
    advised = ProviderError("x", retryable=True, retry_after_s=30.0)
    assert policy.wait_before_retry(1, advised) == 30.0
    too_long = ProviderError("x", retryable=True, retry_after_s=61.0)
    assert policy.wait_before_retry(1, too_long) is None


async def test_get_retries_retryable_statuses_then_succeeds(serve: Serve) -> None:
    hits: Counter[str] = Counter()
    http = await serve(scripted(hits, 503, 429))
    with structlog.testing.capture_logs() as logs:
        assert await http.get("/things") == b"/things"
    assert hits["GET"] == 3
    assert [entry["event"] for entry in logs] == ["acme.retry", "acme.retry"]


async def test_get_gives_up_after_max_attempts(serve: Serve) -> None:
    hits: Counter[str] = Counter()
    http = await serve(scripted(hits, *[503] * 9), max_get_attempts=3)
    with pytest.raises(ProviderError) as caught:
        await http.get("/things")
    assert hits["GET"] == 3
    assert caught.value.status == 503
    assert caught.value.retryable
    assert caught.value.message == "Acme GET /things: HTTP 503"


@pytest.mark.parametrize(
    ("status", "headers"),
    [(400, {}), (503, {"retry-after": "120"})],
    ids=["not-retryable", "retry-after-over-cap"],
)
async def test_get_stops_at_once(serve: Serve, status: int, headers: dict[str, str]) -> None:
    hits: Counter[str] = Counter()
    http = await serve(scripted(hits, status, **headers))
    with pytest.raises(ProviderError):
        await http.get("/things")
    assert hits["GET"] == 1


async def test_post_is_sent_exactly_once(serve: Serve) -> None:
    hits: Counter[str] = Counter()
    http = await serve(scripted(hits, 503))
    with pytest.raises(ProviderError) as caught:
        await http.post("/things", json=b"{}")
    assert hits["POST"] == 1
    assert caught.value.retryable


async def test_headers_bodies_and_the_unauthenticated_url(serve: Serve) -> None:
    seen: list[tuple[dict[str, str], bytes]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.Response(body=b"ok")

    http = await serve(record)
    large = b"x" * 100
    await http.post("/json", json=large)
    await http.send("PUT", "upload session", data=b"raw", url=http.url("/u"), auth=False)
    (json_headers, json_body), (raw_headers, raw_body) = seen
    assert json_body == large
    assert json_headers["x-acme-key"] == KEY
    assert json_headers["Content-Type"] == "application/json"
    assert json_headers["User-Agent"] == "acme-test"
    assert raw_body == b"raw"
    assert "x-acme-key" not in raw_headers


async def test_download_streams_after_retrying_the_opening(serve: Serve) -> None:
    hits: Counter[str] = Counter()
    script = scripted(hits, 502)
    accepts: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        accepts.append(request.headers["Accept"])
        return await script(request)

    http = await serve(handler)
    async with http.download("/file", headers={"Accept": "application/binary"}) as chunks:
        body = b"".join([chunk async for chunk in chunks])
    assert body == b"/file"
    assert hits["GET"] == 2
    assert accepts == ["application/binary"] * 2


async def test_download_error_names_the_path_not_the_url(serve: Serve) -> None:
    http = await serve(scripted(Counter(), 404))
    with pytest.raises(ProviderError) as caught:
        async with http.download("results", url=http.url("/signed?sig=abc")):
            pass
    assert caught.value.message == "Acme GET results: HTTP 404"


async def test_connection_errors_are_retryable_and_name_no_url(serve: Serve) -> None:
    with socket.socket() as bound_only:
        bound_only.bind(("127.0.0.1", 0))
        port = bound_only.getsockname()[1]
        http = await serve(scripted(Counter()), base_url=f"http://127.0.0.1:{port}")
        with structlog.testing.capture_logs() as logs, pytest.raises(ProviderError) as caught:
            await http.get("/things")
    error = caught.value
    assert (error.code, error.retryable) == ("connection_error", True)
    assert error.message.startswith("Acme GET /things: connection_error (")
    assert len(logs) == http.options.max_get_attempts - 1
    for text in [error.message, repr(error.args), *map(repr, logs)]:
        assert "127.0.0.1" not in text
        assert KEY not in text


async def test_a_slow_reply_is_a_retryable_timeout(serve: Serve) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(body=b"late")

    http = await serve(slow, request_timeout_s=0.1)
    with pytest.raises(ProviderError) as caught:
        await http.post("/things", json=b"{}")
    assert (caught.value.code, caught.value.retryable) == ("timeout", True)
    assert caught.value.message == "Acme POST /things: timeout (TimeoutError)"


async def test_a_fence_refuses_every_request_but_a_get_before_it_is_sent(serve: Serve) -> None:
    seen: Counter[str] = Counter()

    async def handler(request: web.Request) -> web.StreamResponse:
        seen[request.method] += 1
        return web.json_response({})

    http = await serve(handler)

    def lost() -> None:
        raise LeaseLostError("run_1")

    with fence(lost):
        assert await http.get("/things") == b"{}"
        with pytest.raises(LeaseLostError):
            await http.post("/things", json=b"{}")
        with pytest.raises(LeaseLostError):
            await http.send("DELETE", "/things/1")
    assert await http.post("/things", json=b"{}") == b"{}"

    assert seen == Counter({"GET": 1, "POST": 1})


def test_retry_after_reads_milliseconds_then_seconds_then_a_date() -> None:
    assert retry_after_s({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_s({"retry-after-ms": "soon", "retry-after": "9"}) == 9.0
    assert retry_after_s({"retry-after": "-3"}) == 0.0
    future = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100.0 < (retry_after_s({"retry-after": future}) or 0.0) <= 120.0
    assert retry_after_s({"retry-after": "whenever"}) is None
    assert retry_after_s({}) is None
