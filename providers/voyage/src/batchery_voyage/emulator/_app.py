"""The routes under `/v1`: Files, Batches and the three realtime endpoints, with their faults.

Realtime calls meet Voyage's usage-tier-1 limits per emulated minute (`REQUESTS_PER_MIN`,
`TOKENS_PER_MIN`) and are refused with a 429 and `retry-after` beyond them; Voyage's other
rate-limit headers are undocumented, so none are sent. A create beyond `MAX_IN_FLIGHT` batches
is refused with a 429 whose `retry-after` is the 30 minutes Voyage's guide suggests, in real
seconds on the scaled clock.
"""

from __future__ import annotations

import itertools
import math
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

from batchery_voyage.emulator._batches import BatchStore
from batchery_voyage.emulator._files import FileStore
from batchery_voyage.emulator._http import (
    ApiError,
    Ids,
    decode_json,
    json_response,
    voyage_middleware,
)
from batchery_voyage.emulator._responses import respond
from batchery_voyage.emulator._wire import CreateBatchBody

__all__ = ["MAX_IN_FLIGHT", "REQUESTS_PER_MIN", "TOKENS_PER_MIN", "build_app"]

REQUESTS_PER_MIN = 2_000
TOKENS_PER_MIN = 8_000_000
MAX_IN_FLIGHT = 100
IN_FLIGHT_WAIT_S = 30 * 60.0

_MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest realtime or batch-create JSON body accepted (uploads stream and are not bounded)."""


class _Api:
    def __init__(
        self,
        *,
        files: FileStore,
        batches: BatchStore,
        clock: ScaledClock,
        plan: FaultPlan,
        latency_s: float,
    ) -> None:
        self.files = files
        self.batches = batches
        self.clock = clock
        self.plan = plan
        self.latency_s = latency_s
        self.rate = RateWindow(
            clock, requests_per_min=REQUESTS_PER_MIN, tokens_per_min=TOKENS_PER_MIN
        )
        self.calls = itertools.count()

    async def upload_file(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.files.upload(request))

    async def list_files(self, request: web.Request) -> web.StreamResponse:
        order = request.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "order must be 'asc' or 'desc'.")
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
        body = await decode_json(request, CreateBatchBody)
        if await self.batches.in_flight() >= MAX_IN_FLIGHT:
            wait = max(1, math.ceil(self.clock.real_seconds(IN_FLIGHT_WAIT_S)))
            raise ApiError(
                429,
                f"You have {MAX_IN_FLIGHT} batch jobs in flight, the most allowed. "
                "Please retry once some have finished.",
                headers={"retry-after": str(wait)},
            )
        batch = await self.batches.create(body)
        if self.plan.hit("create_dropped", batch.id):
            drop_connection(request)
        if self.plan.hit("create_lost", batch.id):
            raise ApiError(500, "Internal Server Error")
        return json_response(batch)

    async def get_batch(self, request: web.Request) -> web.StreamResponse:
        batch_id = request.match_info["batch_id"]
        if self.batches.hidden(batch_id):
            raise ApiError(404, f"Batch {batch_id} not found.")
        return json_response(await self.batches.retrieve_wire(batch_id))

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        limit = _int_query(request, "limit", 20, 100)
        page = await self.batches.list_page(after=request.query.get("after"), limit=limit)
        return json_response(page)

    async def cancel_batch(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.batches.cancel_wire(request.match_info["batch_id"]))

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._realtime(request, "/v1/embeddings")

    async def contextualized(self, request: web.Request) -> web.StreamResponse:
        return await self._realtime(request, "/v1/contextualizedembeddings")

    async def rerank(self, request: web.Request) -> web.StreamResponse:
        return await self._realtime(request, "/v1/rerank")

    async def _realtime(self, request: web.Request, endpoint: str) -> web.StreamResponse:
        """A realtime call: latency, injected faults, rate limits, then the answer."""
        body = await decode_json(request, dict[str, Any])
        call = next(self.calls)
        async with taking(self.latency_s):
            if self.plan.hit("http_429", call):
                wait = self.plan.value("retry_after")
                raise ApiError(
                    429,
                    "Rate limit exceeded. Please wait and retry.",
                    headers={"retry-after": f"{wait:g}"},
                )
            if self.plan.hit("http_500", call):
                raise ApiError(500, "Internal Server Error")
            if self.plan.hit("http_503", call):
                raise ApiError(503, "Service Unavailable")
            decision = self.rate.take(max(1, (request.content_length or 0) // 4))
            if not decision.allowed:
                wait_s = max(1, math.ceil(decision.retry_after_s))
                raise ApiError(
                    429,
                    f"Rate limit of {REQUESTS_PER_MIN} requests or {TOKENS_PER_MIN} tokens per "
                    "minute reached. Please wait and retry.",
                    headers={"retry-after": str(wait_s)},
                )
            return json_response(respond(endpoint, body))


def _int_query(request: web.Request, name: str, default: int, high: int) -> int:
    return int_query(request, name, default=default, low=1, high=high, invalid=_bad_int)


def _bad_int(name: str, low: int, high: int) -> ApiError:
    return ApiError(400, f"{name} must be an integer from {low} to {high}.")


def build_app(
    *,
    files: FileStore,
    batches: BatchStore,
    ids: Ids,
    clock: ScaledClock,
    plan: FaultPlan,
    latency_s: float,
    api_key: str | None,
) -> web.Application:
    api = _Api(files=files, batches=batches, clock=clock, plan=plan, latency_s=latency_s)
    app = web.Application(
        middlewares=[voyage_middleware(api_key, ids)], client_max_size=_MAX_BODY_BYTES
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
    app.router.add_post("/v1/embeddings", api.embeddings)
    app.router.add_post("/v1/contextualizedembeddings", api.contextualized)
    app.router.add_post("/v1/rerank", api.rerank)
    return app
