"""The routes under `/v1`: Files, Batches, chat completions and embeddings, with realtime faults."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from aiohttp import web
from batchery.emulator import FaultPlan, RateWindow, ScaledClock, taking
from batchery_openai_batch.emulator import BatchEmulator, BatchRoutes, BatchStorage, FileStorage

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


class _Refusals:
    """OpenAI's words for the refusals of the shared Files and Batches routes."""

    def bad_order(self) -> ApiError:
        return ApiError(400, "Invalid 'order': 'asc' or 'desc' expected.", param="order")

    def bad_int(self, name: str, low: int, high: int) -> ApiError:
        message = f"Invalid '{name}': integer from {low} to {high} expected."
        return ApiError(400, message, param=name)

    def batch_not_found(self, batch_id: str) -> ApiError:
        return ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")

    def lost_create(self) -> ApiError:
        return _server_error(500)


async def _create_body(request: web.Request) -> CreateBatchBody:
    return await decode_json(request, CreateBatchBody)


class _Realtime:
    """Chat completions and embeddings, with injected faults and the rate window."""

    def __init__(
        self, *, ids: Ids, clock: ScaledClock, plan: FaultPlan, latency_s: float, rate: RateWindow
    ) -> None:
        self.ids = ids
        self.clock = clock
        self.plan = plan
        self.latency_s = latency_s
        self.rate = rate
        self.calls = itertools.count()

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
        fault = self.plan.http_fault(call)
        if fault == 429:
            retry_after = self.plan.value("retry_after")
            raise ApiError(
                429,
                f"Rate limit reached for requests. Please try again in {retry_after:g}s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": f"{retry_after:g}"},
            )
        if fault is not None:
            raise _server_error(fault)
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


def build_app(
    emulator: BatchEmulator[Any, Any],
    *,
    files: FileStorage,
    batches: BatchStorage[CreateBatchBody],
    ids: Ids,
    upload: str = "/files",
    answer_create: Callable[[Any], Any] = lambda batch: batch,
) -> web.Application:
    """The OpenAI API over `emulator`'s stores, clock, faults and options.

    Rate limits default to a generous tier. `upload` and `answer_create` are for servers that
    speak OpenAI's API with a twist of their own (Together uploads to `/files/upload` and wraps
    a created batch in `{"job": ...}`).
    """
    clock, plan, options = emulator.clock, emulator.plan, emulator.options
    rate = RateWindow(
        clock,
        requests_per_min=options.requests_per_min or REQUESTS_PER_MIN,
        tokens_per_min=options.tokens_per_min or TOKENS_PER_MIN,
    )
    realtime = _Realtime(ids=ids, clock=clock, plan=plan, latency_s=options.latency_s, rate=rate)
    routes = BatchRoutes(
        files=files,
        batches=batches,
        plan=plan,
        dialect=_Refusals(),
        read_create=_create_body,
        answer_create=answer_create,
    )
    app = routes.application(openai_middleware(emulator.required_key, ids), upload=upload)
    app.router.add_post("/v1/chat/completions", realtime.chat_completions)
    app.router.add_post("/v1/embeddings", realtime.embeddings)
    return app
