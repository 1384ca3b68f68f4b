"""The client against a tiny scripted server on loopback, for faults an emulator cannot stage.

Each test serves only the routes it needs and counts what reached the server, so "never
retried" and "never fetched" are checked where they happen.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from batchery.model import BatchState, BatchStatus, LlmRequest, LlmResult, Message, RequestKind
from batchery.secrets import Secret
from batchery.spi import BatchNotFoundError, MalformedLine, Provider, ProviderError
from batchery_openai._jsonl import encode_line
from batchery_openai._options import OpenAIOptions, create_session
from batchery_openai._provider import OpenAIProvider

from ..conftest import Opened

KEY = "sk-proj-CANARYcanary0123456789abcdefXYZ"

Serve = Callable[..., Awaitable[OpenAIProvider]]


class Hits(Counter[str]):
    """How many requests each `METHOD /path` received, plus the headers of the last one."""

    headers: dict[str, str]


@pytest.fixture
def hits() -> Hits:
    counter = Hits()
    counter.headers = {}
    return counter


@pytest.fixture
def serve(hits: Hits, opened: Opened) -> Serve:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        hits[f"{request.method} {request.path}"] += 1
        hits.headers = dict(request.headers)
        return await handler(request)

    async def start(routes: web.RouteTableDef, **overrides: Any) -> OpenAIProvider:
        app = web.Application(middlewares=[count])
        app.add_routes(routes)
        server = await opened.server(app)
        options = OpenAIOptions(
            api_key=Secret(KEY),
            base_url=str(server.make_url("/v1")),
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
            request_timeout_s=2.0,
        )
        options = msgspec.structs.replace(options, **overrides)
        return OpenAIProvider(options, opened.session(create_session(options)))

    return start


def _batch(batch_id: str = "batch_1", status: str = "in_progress", **fields: object) -> bytes:
    body: dict[str, object] = {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "status": status,
        "created_at": 1_760_000_000,
        "request_counts": {"total": 2, "completed": 0, "failed": 0},
        "metadata": {"batchery_tag": "t-1"},
    }
    body.update(fields)
    return msgspec.json.encode(body)


def _error(status: int, type_: str, code: str | None = None, **headers: str) -> web.Response:
    body = {"error": {"message": f"{type_} for {KEY}", "type": type_, "param": None, "code": code}}
    return web.Response(
        status=status,
        body=msgspec.json.encode(body),
        headers=headers,
        content_type="application/json",
    )


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def _chat(custom_id: str) -> LlmRequest:
    return LlmRequest(custom_id=custom_id, messages=(Message("user", "hi"),), model="gpt-4o-mini")


async def test_provider_satisfies_the_protocol(serve: Serve) -> None:
    provider = await serve(web.RouteTableDef())
    assert isinstance(provider, Provider)
    assert provider.info.name == "openai"
    assert provider.info.kinds == frozenset({RequestKind.CHAT, RequestKind.EMBEDDING})
    assert provider.info.limits.max_requests_per_batch == 50_000
    assert KEY not in repr(provider)


async def test_get_batch_retries_server_errors_then_succeeds(serve: Serve, hits: Hits) -> None:
    routes = web.RouteTableDef()
    answers = [
        _error(500, "server_error"),
        _error(429, "requests", "rate_limit_exceeded", **{"retry-after-ms": "20"}),
    ]

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return answers.pop(0) if answers else _json(_batch())

    provider = await serve(routes)
    state = await provider.get_batch("batch_1")
    assert state.status is BatchStatus.IN_PROGRESS
    assert state.tag == "t-1"
    assert hits["GET /v1/batches/batch_1"] == 3
    assert hits.headers["Authorization"] == f"Bearer {KEY}"


async def test_get_batch_gives_up_after_its_attempts(serve: Serve, hits: Hits) -> None:
    routes = web.RouteTableDef()

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return _error(503, "server_error")

    provider = await serve(routes, max_get_attempts=3)
    with pytest.raises(ProviderError) as caught:
        await provider.get_batch("batch_1")
    assert caught.value.retryable
    assert caught.value.status == 503
    assert hits["GET /v1/batches/batch_1"] == 3
    assert KEY not in str(caught.value)


async def test_retry_after_beyond_the_cap_is_not_waited_for(serve: Serve, hits: Hits) -> None:
    routes = web.RouteTableDef()

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return _error(429, "requests", "rate_limit_exceeded", **{"retry-after": "600"})

    provider = await serve(routes)
    with pytest.raises(ProviderError) as caught:
        await provider.get_batch("batch_1")
    assert caught.value.retry_after_s == 600
    assert hits["GET /v1/batches/batch_1"] == 1


async def test_missing_batch_is_batch_not_found(serve: Serve) -> None:
    routes = web.RouteTableDef()

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return _error(404, "invalid_request_error")

    provider = await serve(routes)
    with pytest.raises(BatchNotFoundError) as caught:
        await provider.get_batch("batch_gone")
    assert caught.value.status == 404


@pytest.mark.parametrize("fault", ["500", "timeout", "disconnect"])
async def test_create_is_sent_once_whatever_happens(serve: Serve, hits: Hits, fault: str) -> None:
    routes = web.RouteTableDef()

    @routes.post("/v1/files")
    async def upload(request: web.Request) -> web.Response:
        await request.read()
        return _json(b'{"id": "file-1", "object": "file", "filename": "x", "purpose": "batch"}')

    @routes.post("/v1/batches")
    async def create(request: web.Request) -> web.Response:
        if fault == "timeout":
            await asyncio.sleep(5)
        if fault == "disconnect":
            assert request.transport is not None
            request.transport.close()
        return _error(500, "server_error")

    provider = await serve(routes, request_timeout_s=0.3)
    with pytest.raises(ProviderError) as caught:
        await provider.submit_batch([_chat("a")], tag="t-1")
    assert caught.value.retryable
    assert hits["POST /v1/batches"] == 1
    assert KEY not in str(caught.value)


async def test_submit_uploads_a_file_and_creates_a_tagged_batch(serve: Serve, hits: Hits) -> None:
    routes = web.RouteTableDef()
    received: dict[str, object] = {}

    @routes.post("/v1/files")
    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        file = form["file"]
        assert isinstance(file, web.FileField)
        received.update(purpose=form["purpose"], filename=file.filename, data=file.file.read())
        return _json(b'{"id": "file-9", "object": "file", "purpose": "batch"}')

    @routes.post("/v1/batches")
    async def create(request: web.Request) -> web.Response:
        received["create"] = await request.json()
        return _json(_batch("batch_9", "validating", metadata={"batchery_tag": "job:3"}))

    provider = await serve(routes)
    requests = [_chat("a"), _chat("b")]
    state = await provider.submit_batch(iter(requests), tag="job:3")
    assert state == BatchState(
        batch_id="batch_9",
        status=BatchStatus.VALIDATING,
        created_at=1_760_000_000,
        total=2,
        tag="job:3",
    )
    assert received["purpose"] == "batch"
    assert received["filename"] == "batchery-job:3.jsonl"
    data = received["data"]
    assert isinstance(data, bytes)
    assert len(data) == sum(provider.batch_size_of(request) for request in requests)
    assert received["create"] == {
        "input_file_id": "file-9",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {"batchery_tag": "job:3"},
    }


async def test_resume_reuses_an_uploaded_file_of_the_same_name_and_size(
    serve: Serve, hits: Hits
) -> None:
    routes = web.RouteTableDef()
    requests = [_chat("a")]
    wanted = len(encode_line(requests[0]))
    created: list[object] = []

    @routes.get("/v1/files")
    async def listing(request: web.Request) -> web.Response:
        assert request.query["purpose"] == "batch"
        if "after" not in request.query:
            stale = {"id": "file-short", "filename": "batchery-t-1.jsonl", "bytes": wanted - 1}
            other = {"id": "file-other", "filename": "batchery-t-0.jsonl", "bytes": wanted}
            page = {"data": [stale, other], "has_more": True, "last_id": "file-other"}
        else:
            old = {"id": "file-old", "filename": "batchery-t-1.jsonl", "bytes": wanted}
            page = {"data": [old], "has_more": False}
        return _json(msgspec.json.encode(page))

    @routes.post("/v1/batches")
    async def create(request: web.Request) -> web.Response:
        created.append(await request.json())
        return _json(_batch())

    provider = await serve(routes)
    await provider.submit_batch(requests, tag="t-1", resume=True)
    assert hits["POST /v1/files"] == 0
    assert hits["GET /v1/files"] == 2
    assert created == [
        {
            "input_file_id": "file-old",
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {"batchery_tag": "t-1"},
        }
    ]


def _line(custom_id: str, text: str) -> bytes:
    body = {"choices": [{"message": {"role": "assistant", "content": text}}], "usage": {}}
    return msgspec.json.encode(
        {"custom_id": custom_id, "response": {"status_code": 200, "body": body}, "error": None}
    )


def _streamed(
    parts: list[bytes], *, cut: bool = False
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A handler that sends `parts` as separate network writes, optionally dying midway."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in parts:
            await response.write(part)
            await asyncio.sleep(0.005)
        if cut:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response

    return handler


async def test_collect_streams_both_files_across_awkward_chunks(serve: Serve, hits: Hits) -> None:
    output = _line("a", "naïve ✓") + b"\r\n" + _line("b", "日本") + b"\r\n{broken\r\n"
    cuts = [7, output.index(b"\r\n") + 1, output.index("本".encode()) + 1, len(output) - 3]
    parts = [output[i:j] for i, j in zip([0, *cuts], [*cuts, len(output)], strict=True)]
    error_body = {"error": {"message": "bad", "type": "invalid_request_error", "code": None}}
    error_line = msgspec.json.encode(
        {"custom_id": "c", "response": {"status_code": 400, "body": error_body}}
    )
    routes = web.RouteTableDef()

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return _json(
            _batch(status="completed", output_file_id="file-out", error_file_id="file-err")
        )

    routes.get("/v1/files/file-out/content")(_streamed(parts))
    routes.get("/v1/files/file-err/content")(_streamed([error_line, b"\n", _line("a", "again")]))
    provider = await serve(routes)
    items = [item async for item in provider.collect(await provider.get_batch("batch_1"))]
    results = [item for item in items if isinstance(item, LlmResult)]
    malformed = [item for item in items if isinstance(item, MalformedLine)]
    assert [(r.custom_id, r.ok, r.text) for r in results] == [
        ("a", True, "naïve ✓"),
        ("b", True, "日本"),
        ("c", False, None),
    ]
    assert malformed == [
        MalformedLine(line=3, reason="output file: invalid JSON"),
        MalformedLine(line=2, reason="error file: duplicate custom_id", custom_id="a"),
    ]


@pytest.mark.parametrize(("output", "errors"), [(None, ""), ("", None), (None, None)])
async def test_absent_files_are_never_fetched(
    serve: Serve, hits: Hits, output: str | None, errors: str | None
) -> None:
    routes = web.RouteTableDef()

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return _json(_batch(status="completed", output_file_id=output, error_file_id=errors))

    provider = await serve(routes)
    state = BatchState(batch_id="batch_1", status=BatchStatus.COMPLETED, created_at=0)
    assert [item async for item in provider.collect(state)] == []
    assert sum(count for route, count in hits.items() if "/files" in route) == 0


async def test_interrupted_download_raises_retryable_after_what_arrived(serve: Serve) -> None:
    routes = web.RouteTableDef()

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return _json(_batch(status="expired", output_file_id="file-out"))

    routes.get("/v1/files/file-out/content")(
        _streamed([_line("a", "x") + b"\n" + _line("b", "y")[:20]], cut=True)
    )
    provider = await serve(routes)
    state = BatchState(batch_id="batch_1", status=BatchStatus.EXPIRED, created_at=0)
    seen: list[str] = []

    async def drain() -> None:
        async for item in provider.collect(state):
            assert isinstance(item, LlmResult)
            seen.append(item.custom_id)

    with pytest.raises(ProviderError) as caught:
        await drain()
    assert seen == ["a"]
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("current", "ok"), [("cancelling", True), ("completed", True), ("in_progress", False)]
)
async def test_cancel_of_a_cancelling_or_finished_batch(
    serve: Serve, hits: Hits, current: str, ok: bool
) -> None:
    routes = web.RouteTableDef()

    @routes.post("/v1/batches/{batch_id}/cancel")
    async def cancel(request: web.Request) -> web.Response:
        return _error(400, "invalid_request_error")

    @routes.get("/v1/batches/{batch_id}")
    async def get(request: web.Request) -> web.Response:
        return _json(_batch(status=current))

    provider = await serve(routes)
    if ok:
        state = await provider.cancel_batch("batch_1")
        assert state.status == BatchStatus(current)
    else:
        with pytest.raises(ProviderError) as caught:
            await provider.cancel_batch("batch_1")
        assert caught.value.status == 400
    assert hits["POST /v1/batches/batch_1/cancel"] == 1


async def test_find_batch_pages_newest_first_and_stops_at_created_after(
    serve: Serve, hits: Hits
) -> None:
    def entry(batch_id: str, created_at: int, tag: str | None) -> dict[str, object]:
        metadata = {"batchery_tag": tag} if tag else None
        return {
            "id": batch_id,
            "status": "in_progress",
            "created_at": created_at,
            "metadata": metadata,
        }

    pages = {
        None: {
            "data": [entry("b5", 500, "x"), entry("b4", 400, None)],
            "has_more": True,
            "last_id": "b4",
        },
        "b4": {
            "data": [entry("b3", 300, "mine"), entry("b2", 200, "old")],
            "has_more": True,
            "last_id": "b2",
        },
        "b2": {"data": [entry("b1", 100, "mine")], "has_more": False, "last_id": "b1"},
    }
    routes = web.RouteTableDef()

    @routes.get("/v1/batches")
    async def listing(request: web.Request) -> web.Response:
        assert request.query["limit"] == "100"
        return _json(msgspec.json.encode(pages[request.query.get("after")]))

    provider = await serve(routes)
    found = await provider.find_batch("mine", created_after=250)
    assert found is not None
    assert (found.batch_id, found.tag) == ("b3", "mine")
    assert await provider.find_batch("mine", created_after=350) is None
    assert await provider.find_batch("absent", created_after=0) is None
    assert hits["GET /v1/batches"] == 2 + 2 + 3
