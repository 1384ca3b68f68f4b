"""The routes: models (realtime and batch creates), batches, the File API, with realtime faults.

Google's custom methods put a verb after a colon (`models/x:generateContent`,
`batches/y:cancel`), so each collection has one route and the handler splits the verb off.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from batchery.emulator import FaultPlan, RateWindow, ScaledClock, drop_connection, taking

from batchery_gemini.emulator._batch_io import derived_id
from batchery_gemini.emulator._batches import BatchStore
from batchery_gemini.emulator._files import FileStore
from batchery_gemini.emulator._http import (
    ApiError,
    RequestLog,
    decode_json,
    google_middleware,
    json_response,
)
from batchery_gemini.emulator._responses import batch_embed, embed, generate

__all__ = ["INLINE_LIMIT_BYTES", "REQUESTS_PER_MIN", "TOKENS_PER_MIN", "build_app"]

INLINE_LIMIT_BYTES = 20 * 1024 * 1024
"""Largest JSON body accepted; an inline batch above it is refused as the API refuses it."""
REQUESTS_PER_MIN = 30_000
TOKENS_PER_MIN = 150_000_000
"""Realtime limits per emulated minute: high enough that well-behaved tests never meet them."""

_VERSIONS = ("v1beta", "v1")
"""The API versions served: the docs use `v1beta`, the official SDK now defaults to `v1`."""
_QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_requests"
_BATCH_KINDS = {"batchGenerateContent": "generate", "asyncBatchEmbedContent": "embed"}


class _Api:
    def __init__(
        self,
        *,
        files: FileStore,
        batches: BatchStore,
        clock: ScaledClock,
        plan: FaultPlan,
        latency_s: float,
        rate: RateWindow,
    ) -> None:
        self.files = files
        self.batches = batches
        self.clock = clock
        self.plan = plan
        self.latency_s = latency_s
        self.rate = rate
        self.calls = itertools.count()
        self.creates = itertools.count()

    async def upload(self, request: web.Request) -> web.StreamResponse:
        if "upload_id" in request.query:
            return await self.files.receive(request)
        return await self.files.start(request)

    async def list_files(self, request: web.Request) -> web.StreamResponse:
        size = _page_size(request, default=10, high=100)
        return json_response(self.files.list_page(size=size, token=request.query.get("pageToken")))

    async def file(self, request: web.Request) -> web.StreamResponse:
        target = unquote(request.match_info["target"])
        name, _, verb = target.partition(":")
        if verb == "download":
            return await self._download(request, name)
        if verb:
            raise ApiError(404, f"Method not found: files/{target}")
        if request.method == "DELETE":
            self.files.delete(f"files/{name}")
            return json_response({})
        return json_response(self.files.get(f"files/{name}").wire)

    async def download(self, request: web.Request) -> web.StreamResponse:
        name, _, verb = unquote(request.match_info["target"]).partition(":")
        if verb != "download":
            raise ApiError(404, f"Method not found: {request.path}")
        return await self._download(request, name)

    async def _download(self, request: web.Request, name: str) -> web.StreamResponse:
        if request.query.get("alt") != "media":
            raise ApiError(400, "Downloading a file needs alt=media.")
        stored = self.files.get(f"files/{name}")
        return web.FileResponse(stored.path, headers={"Content-Type": stored.wire.mime_type})

    async def model(self, request: web.Request) -> web.StreamResponse:
        target = unquote(request.match_info["target"])
        name, _, verb = target.partition(":")
        model = f"models/{name}"
        if request.content_length is not None and request.content_length > INLINE_LIMIT_BYTES:
            raise ApiError(400, f"Request payload size exceeds the limit: {INLINE_LIMIT_BYTES}.")
        body = await decode_json(request, dict[str, Any])
        if verb in _BATCH_KINDS:
            return await self._create_batch(request, _BATCH_KINDS[verb], model, body)
        handlers: dict[str, Callable[[], Any]] = {
            "generateContent": lambda: generate(
                model, body, response_id=derived_id("", "realtime", next(self.calls))
            ),
            "embedContent": lambda: embed(model, body),
            "batchEmbedContents": lambda: batch_embed(model, body),
        }
        answer = handlers.get(verb)
        if answer is None:
            raise ApiError(404, f"Method not found: models/{target}")
        return await self._realtime(request, answer)

    async def _create_batch(
        self, request: web.Request, kind: str, model: str, body: dict[str, Any]
    ) -> web.StreamResponse:
        operation = await self.batches.create(kind, model, body)
        create = next(self.creates)
        if self.plan.hit("create_dropped", create):
            drop_connection(request)
        if self.plan.hit("create_lost", create):
            raise _server_error(500)
        return json_response(operation)

    async def _realtime(
        self, request: web.Request, answer: Callable[[], Any]
    ) -> web.StreamResponse:
        """A realtime call: latency, injected faults, rate limits, then the answer."""
        call = next(self.calls)
        async with taking(self.latency_s):
            fault = self.plan.http_fault(call)
            if fault == 429:
                raise _rate_limited(self.plan.value("retry_after"))
            if fault is not None:
                raise _server_error(fault)
            decision = self.rate.take(max(1, (request.content_length or 0) // 4))
            if not decision.allowed:
                raise _rate_limited(decision.retry_after_s)
            return json_response(answer())

    async def batch(self, request: web.Request) -> web.StreamResponse:
        target = unquote(request.match_info["target"])
        ident, _, verb = target.partition(":")
        name = f"batches/{ident}"
        if request.method == "POST":
            if verb != "cancel":
                raise ApiError(404, f"Method not found: batches/{target}")
            await self.batches.cancel(name)
            return json_response({})
        if verb:
            raise ApiError(404, f"Method not found: batches/{target}")
        if request.method == "DELETE":
            await self.batches.delete(name)
            return json_response({})
        if "batch_404" in self.plan:
            hidden_for = self.plan.value("batch_404")
            if self.clock.now() < self.batches.created_at(name) + hidden_for:
                raise ApiError(404, f"Batch {ident} not found.")
        return json_response(await self.batches.get(name))

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        size = _page_size(request, default=50, high=1000)
        page = await self.batches.list_page(size=size, token=request.query.get("pageToken"))
        return json_response(page)


def _rate_limited(wait_s: float) -> ApiError:
    return ApiError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": _QUOTA_METRIC,
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{wait_s:g}s"},
        ],
    )


def _server_error(status: int) -> ApiError:
    if status == 503:
        return ApiError(503, "The model is overloaded. Please try again later.")
    return ApiError(500, "An internal error has occurred. Please retry or report it.")


def _page_size(request: web.Request, *, default: int, high: int) -> int:
    raw = request.query.get("pageSize")
    if raw is None:
        return default
    if not raw.isdigit():
        raise ApiError(400, "Invalid value at 'page_size': a number is required.")
    return min(max(int(raw), 1), high) if int(raw) else default


def build_app(
    *,
    files: FileStore,
    batches: BatchStore,
    clock: ScaledClock,
    plan: FaultPlan,
    latency_s: float,
    api_key: str | None,
    log: RequestLog,
    requests_per_min: int | None = None,
    tokens_per_min: int | None = None,
) -> web.Application:
    """The Gemini API over the emulator's state; rate limits default to a generous tier."""
    rate = RateWindow(
        clock,
        requests_per_min=requests_per_min or REQUESTS_PER_MIN,
        tokens_per_min=tokens_per_min or TOKENS_PER_MIN,
    )
    api = _Api(files=files, batches=batches, clock=clock, plan=plan, latency_s=latency_s, rate=rate)
    app = web.Application(
        middlewares=[google_middleware(api_key, log)], client_max_size=INLINE_LIMIT_BYTES * 2
    )
    routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
        ("POST", "/upload/{version}/files", api.upload),
        ("GET", "/{version}/files", api.list_files),
        ("GET", "/{version}/files/{{target}}", api.file),
        ("DELETE", "/{version}/files/{{target}}", api.file),
        ("GET", "/download/{version}/files/{{target}}", api.download),
        ("POST", "/{version}/models/{{target}}", api.model),
        ("GET", "/{version}/batches", api.list_batches),
        ("GET", "/{version}/batches/{{target}}", api.batch),
        ("POST", "/{version}/batches/{{target}}", api.batch),
        ("DELETE", "/{version}/batches/{{target}}", api.batch),
    ]
    for version in _VERSIONS:
        for method, path, handler in routes:
            app.router.add_route(method, path.format(version=version), handler)
    return app
