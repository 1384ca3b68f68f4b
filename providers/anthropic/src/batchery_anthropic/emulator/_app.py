"""The routes under `/v1`: Message Batches and Messages, with the fault plan's realtime faults."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web
from batchery.emulator import FaultPlan, ScaledClock, drop_connection, taking

from batchery_anthropic.emulator._batches import BatchStore
from batchery_anthropic.emulator._http import ApiError, Ids, decode_json, json_response, middleware
from batchery_anthropic.emulator._messages import respond
from batchery_anthropic.emulator._ratelimit import Limits, rate_headers
from batchery_anthropic.emulator._wire import CreateBody

__all__ = ["MAX_BATCH_BYTES", "MAX_MESSAGES_BYTES", "build_app"]

MAX_BATCH_BYTES = 256 * 1024 * 1024
"""Largest create body; a larger one is a 413 `request_too_large`, as Cloudflare answers."""
MAX_MESSAGES_BYTES = 32 * 1024 * 1024
"""Largest realtime Messages body."""
_SERVER_ERRORS = {
    500: ("Internal server error", "api_error"),
    503: ("Service unavailable", "api_error"),
    529: ("Overloaded", "overloaded_error"),
}
"""The message and error `type` of each injected server failure."""


def _origin(request: web.Request) -> str:
    """Scheme, host and port the client used, so `results_url` points back at this server."""
    return f"{request.scheme}://{request.host}"


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"{name}: Input should be an integer from {low} to {high}")
    return int(raw)


class _Api:
    def __init__(
        self,
        *,
        batches: BatchStore,
        ids: Ids,
        clock: ScaledClock,
        plan: FaultPlan,
        latency_s: float,
        limits: Limits,
    ) -> None:
        self.batches = batches
        self.ids = ids
        self.clock = clock
        self.plan = plan
        self.latency_s = latency_s
        self.limits = limits
        self.calls = itertools.count()

    def _hide_new(self, batch_id: str) -> None:
        """The `batch_404` fault: a new batch is unknown to reads for a while after its create."""
        if "batch_404" in self.plan:
            created = self.batches.created_at(batch_id)
            if self.clock.now() < created + self.plan.value("batch_404"):
                message = f"message_batch {batch_id!r} not found"
                raise ApiError(404, message, type="not_found_error")

    async def create_batch(self, request: web.Request) -> web.StreamResponse:
        body = await decode_json(request, CreateBody)
        batch = await self.batches.create(body, _origin(request))
        if self.plan.hit("create_dropped", batch.id):
            drop_connection(request)
        if self.plan.hit("create_lost", batch.id):
            raise ApiError(500, "Internal server error", type="api_error")
        return json_response(batch)

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        after_id = request.query.get("after_id")
        before_id = request.query.get("before_id")
        if after_id is not None and before_id is not None:
            raise ApiError(400, "after_id and before_id cannot be given together")
        page = await self.batches.list_page(
            origin=_origin(request),
            limit=_int_query(request, "limit", 20, 1, 1000),
            after_id=after_id,
            before_id=before_id,
        )
        return json_response(page)

    async def get_batch(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        self._hide_new(batch_id)
        return json_response(await self.batches.retrieve(batch_id, _origin(request)))

    async def cancel_batch(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        return json_response(await self.batches.cancel(batch_id, _origin(request)))

    async def delete_batch(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.batches.delete(request.match_info["batch_id"]))

    async def results(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        self._hide_new(batch_id)
        path = await self.batches.results_path(batch_id)
        return web.FileResponse(path, headers={"Content-Type": "application/binary"})

    async def messages(self, request: web.Request) -> web.StreamResponse:
        """A realtime call: size, latency, injected faults, rate limits, then the answer."""
        if (request.content_length or 0) > MAX_MESSAGES_BYTES:
            message = "Request exceeds the maximum size."
            raise ApiError(413, message, type="request_too_large")
        body = await decode_json(request, dict[str, Any])
        call = next(self.calls)
        async with taking(self.latency_s):
            fault = self.plan.http_fault(call, (429, 500, 503, 529))
            if fault == 429:
                wait = self.plan.value("retry_after")
                raise ApiError(
                    429,
                    "This request would exceed your organization's rate limit. Please retry later.",
                    type="rate_limit_error",
                    headers={"retry-after": f"{wait:g}"},
                )
            if fault is not None:
                message, kind = _SERVER_ERRORS[fault]
                raise ApiError(fault, message, type=kind)
            sent = self.limits.input.take(max(1, (request.content_length or 0) // 4))
            if not sent.allowed:
                raise ApiError(
                    429,
                    "This request would exceed your organization's rate limit of requests per "
                    "minute. Please retry later.",
                    type="rate_limit_error",
                    headers=rate_headers(sent, self.limits.output.take(0)),
                )
            answer = respond(
                body, message_id=self.ids.message(), service_tier="standard", batch=False
            )
            produced = self.limits.output.take(answer["usage"]["output_tokens"])
            return json_response(answer, headers=rate_headers(sent, produced))


def build_app(
    *,
    batches: BatchStore,
    ids: Ids,
    clock: ScaledClock,
    plan: FaultPlan,
    latency_s: float,
    api_key: str | None,
    requests_per_min: int | None = None,
    tokens_per_min: int | None = None,
) -> web.Application:
    """Anthropic's API over the emulator's state; `tokens_per_min` limits input tokens."""
    limits = Limits(clock, requests_per_min=requests_per_min, input_tokens_per_min=tokens_per_min)
    api = _Api(batches=batches, ids=ids, clock=clock, plan=plan, latency_s=latency_s, limits=limits)
    app = web.Application(middlewares=[middleware(api_key, ids)], client_max_size=MAX_BATCH_BYTES)
    batch = "/v1/messages/batches/{batch_id}"
    app.router.add_post("/v1/messages/batches", api.create_batch)
    app.router.add_get("/v1/messages/batches", api.list_batches)
    app.router.add_get(batch, api.get_batch)
    app.router.add_delete(batch, api.delete_batch)
    app.router.add_post(batch + "/cancel", api.cancel_batch)
    app.router.add_get(batch + "/results", api.results)
    app.router.add_post("/v1/messages", api.messages)
    return app
