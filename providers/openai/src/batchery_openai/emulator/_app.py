"""The routes under `/v1`: Files, Batches, chat completions and embeddings, with realtime faults."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web
from batchery.emulator import (
    DeletedFile,
    FaultPlan,
    RateWindow,
    ScaledClock,
    drop_connection,
    int_query,
    taking,
)

from batchery_openai.emulator._batches import BatchStore
from batchery_openai.emulator._files import FileStore
from batchery_openai.emulator._http import (
    ApiError,
    Ids,
    decode_json,
    json_response,
    openai_middleware,
)
from batchery_openai.emulator._ratelimit import REQUESTS_PER_MIN, TOKENS_PER_MIN, rate_headers
from batchery_openai.emulator._responses import respond
from batchery_openai.emulator._wire import CreateBatchBody

__all__ = ["build_app"]

_MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest realtime or batch-create JSON body accepted (uploads stream and are not bounded)."""


class _Api:
    def __init__(
        self,
        *,
        files: FileStore,
        batches: BatchStore,
        ids: Ids,
        clock: ScaledClock,
        plan: FaultPlan,
        latency_s: float,
        rate: RateWindow,
    ) -> None:
        self.files = files
        self.batches = batches
        self.ids = ids
        self.clock = clock
        self.plan = plan
        self.latency_s = latency_s
        self.rate = rate
        self.calls = itertools.count()

    async def upload_file(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.files.upload(request))

    async def list_files(self, request: web.Request) -> web.StreamResponse:
        order = request.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "Invalid 'order': 'asc' or 'desc' expected.", param="order")
        page = self.files.list_page(
            purpose=request.query.get("purpose"),
            limit=_int_query(request, "limit", 10_000, 10_000),
            newest_first=order == "desc",
            after=request.query.get("after"),
        )
        return json_response(page)

    async def get_file(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.files.get(request.match_info["file_id"]).wire)

    async def file_content(self, request: web.Request) -> web.StreamResponse:
        stored = self.files.get(request.match_info["file_id"])
        return web.FileResponse(stored.path, headers={"Content-Type": "application/octet-stream"})

    async def delete_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        self.files.delete(file_id)
        return json_response(DeletedFile(id=file_id))

    async def create_batch(self, request: web.Request) -> web.StreamResponse:
        batch = await self.batches.create(await decode_json(request, CreateBatchBody))
        if self.plan.hit("create_dropped", batch.id):
            drop_connection(request)
        if self.plan.hit("create_lost", batch.id):
            raise _server_error(500)
        return json_response(batch)

    async def get_batch(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        if self.batches.hidden(batch_id):
            raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return json_response(await self.batches.retrieve_wire(batch_id))

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        limit = _int_query(request, "limit", 20, 100)
        return json_response(
            await self.batches.list_page(after=request.query.get("after"), limit=limit)
        )

    async def cancel_batch(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.batches.cancel_wire(request.match_info["batch_id"]))

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._realtime(request, "/v1/chat/completions")

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._realtime(request, "/v1/embeddings")

    async def _realtime(self, request: web.Request, url: str) -> web.StreamResponse:
        """A realtime call, answered (or refused) `latency_s` after it arrived.

        The answer is worked out first and the rest of the latency slept after, as a real
        server's processing is part of its latency rather than added to it.
        """
        async with taking(self.latency_s):
            body = await decode_json(request, dict[str, Any])
            return self._answer(request, url, body, next(self.calls))

    def _answer(
        self, request: web.Request, url: str, body: dict[str, Any], call: int
    ) -> web.StreamResponse:
        """Injected faults, then the rate limit, then the answer."""
        if self.plan.hit("http_429", call):
            retry_after = self.plan.value("retry_after")
            raise ApiError(
                429,
                f"Rate limit reached for requests. Please try again in {retry_after:g}s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": f"{retry_after:g}"},
            )
        for status in (500, 503):
            if self.plan.hit(f"http_{status}", call):
                raise _server_error(status)
        decision = self.rate.take(max(1, (request.content_length or 0) // 4))
        allowed, headers = decision.allowed, rate_headers(decision)
        if not allowed:
            raise ApiError(
                429,
                "Rate limit reached for requests per minute (RPM). Please try again later.",
                type="requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        created = int(self.clock.now())
        payload = respond(
            url, body, completion_id=self.ids.chat_completion(), created=created, plan=self.plan
        )
        return json_response(payload, headers=headers)


def _server_error(status: int) -> ApiError:
    if status == 503:
        message = "The engine is currently overloaded, please try again later."
    else:
        message = "The server had an error while processing your request. Sorry about that!"
    return ApiError(status, message, type="server_error")


def _int_query(request: web.Request, name: str, default: int, high: int) -> int:
    return int_query(request, name, default=default, low=1, high=high, invalid=_bad_int)


def _bad_int(name: str, low: int, high: int) -> ApiError:
    return ApiError(400, f"Invalid '{name}': integer from {low} to {high} expected.", param=name)


def build_app(
    *,
    files: FileStore,
    batches: BatchStore,
    ids: Ids,
    clock: ScaledClock,
    plan: FaultPlan,
    latency_s: float,
    api_key: str | None,
    requests_per_min: int | None = None,
    tokens_per_min: int | None = None,
) -> web.Application:
    """The OpenAI API over the emulator's state; rate limits default to a generous tier."""
    rate = RateWindow(
        clock,
        requests_per_min=requests_per_min or REQUESTS_PER_MIN,
        tokens_per_min=tokens_per_min or TOKENS_PER_MIN,
    )
    api = _Api(
        files=files,
        batches=batches,
        ids=ids,
        clock=clock,
        plan=plan,
        latency_s=latency_s,
        rate=rate,
    )
    app = web.Application(
        middlewares=[openai_middleware(api_key, ids)], client_max_size=_MAX_BODY_BYTES
    )
    app.router.add_post("/v1/files", api.upload_file)
    app.router.add_get("/v1/files", api.list_files)
    app.router.add_get("/v1/files/{file_id}", api.get_file)
    app.router.add_get("/v1/files/{file_id}/content", api.file_content)
    app.router.add_delete("/v1/files/{file_id}", api.delete_file)
    app.router.add_post("/v1/batches", api.create_batch)
    app.router.add_get("/v1/batches", api.list_batches)
    app.router.add_get("/v1/batches/{batch_id}", api.get_batch)
    app.router.add_post("/v1/batches/{batch_id}/cancel", api.cancel_batch)
    app.router.add_post("/v1/chat/completions", api.chat_completions)
    app.router.add_post("/v1/embeddings", api.embeddings)
    return app
