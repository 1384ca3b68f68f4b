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
from batchery.emulator import FaultPlan, RateWindow, ScaledClock, taking
from batchery_openai_batch.emulator import BatchEmulator, BatchRoutes

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
_SERVER_ERRORS = {500: "Internal Server Error", 503: "Service Unavailable"}


class _Refusals:
    """Voyage's words for the refusals of the shared Files and Batches routes."""

    def bad_order(self) -> ApiError:
        return ApiError(400, "order must be 'asc' or 'desc'.")

    def bad_int(self, name: str, low: int, high: int) -> ApiError:
        return ApiError(400, f"{name} must be an integer from {low} to {high}.")

    def batch_not_found(self, batch_id: str) -> ApiError:
        return ApiError(404, f"Batch {batch_id} not found.")

    def lost_create(self) -> ApiError:
        return ApiError(500, "Internal Server Error")


class _Creates:
    """Reads a create body, refused with a 429 while `MAX_IN_FLIGHT` batches are in flight."""

    def __init__(self, batches: BatchStore, clock: ScaledClock) -> None:
        self._batches = batches
        self._clock = clock

    async def __call__(self, request: web.Request) -> CreateBatchBody:
        body = await decode_json(request, CreateBatchBody)
        if await self._batches.in_flight() >= MAX_IN_FLIGHT:
            wait = max(1, math.ceil(self._clock.real_seconds(IN_FLIGHT_WAIT_S)))
            raise ApiError(
                429,
                f"You have {MAX_IN_FLIGHT} batch jobs in flight, the most allowed. "
                "Please retry once some have finished.",
                headers={"retry-after": str(wait)},
            )
        return body


class _Realtime:
    """The three realtime endpoints, with injected faults and the rate window."""

    def __init__(self, *, plan: FaultPlan, clock: ScaledClock, latency_s: float) -> None:
        self.plan = plan
        self.latency_s = latency_s
        self.rate = RateWindow(
            clock, requests_per_min=REQUESTS_PER_MIN, tokens_per_min=TOKENS_PER_MIN
        )
        self.calls = itertools.count()

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
            fault = self.plan.http_fault(call)
            if fault == 429:
                wait = self.plan.value("retry_after")
                raise ApiError(
                    429,
                    "Rate limit exceeded. Please wait and retry.",
                    headers={"retry-after": f"{wait:g}"},
                )
            if fault is not None:
                raise ApiError(fault, _SERVER_ERRORS[fault])
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


def build_app(
    emulator: BatchEmulator[Any, Any], *, files: FileStore, batches: BatchStore, ids: Ids
) -> web.Application:
    """Voyage's API over `emulator`'s stores, clock, faults and options."""
    clock, plan = emulator.clock, emulator.plan
    realtime = _Realtime(plan=plan, clock=clock, latency_s=emulator.options.latency_s)
    routes = BatchRoutes(
        files=files,
        batches=batches,
        plan=plan,
        dialect=_Refusals(),
        read_create=_Creates(batches, clock),
    )
    app = routes.application(voyage_middleware(emulator.required_key, ids))
    app.router.add_post("/v1/embeddings", realtime.embeddings)
    app.router.add_post("/v1/contextualizedembeddings", realtime.contextualized)
    app.router.add_post("/v1/rerank", realtime.rerank)
    return app
