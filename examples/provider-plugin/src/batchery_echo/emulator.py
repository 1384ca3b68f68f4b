"""An emulator of the Echo API on loopback HTTP, built from `batchery.emulator`'s parts.

A batch's state is worked out from the scaled clock whenever it is read, so no background task
runs. Emulated durations (divide by `time_scale` for real time): queued for `QUEUED_S`, then
`PER_SECOND` requests a second, cancelling for `CANCELLING_S`, and expiry `WINDOW_S` after
create. Faults (see `batchery.emulator.FAULTS`) are the kit's names; `SUPPORTED_FAULTS` lists
the ones that apply to Echo.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from aiohttp import web
from batchery.emulator import (
    EmulatorServer,
    FaultPlan,
    ScaledClock,
    estimate_tokens,
    request_seed,
    text_answer,
)
from batchery.spi import EmulatorOptions

from batchery_echo._wire import (
    BatchEntry,
    BatchList,
    BatchView,
    Counts,
    CreateBatch,
    EchoError,
    EchoReply,
    EchoRequest,
    ErrorBody,
    ResultLine,
)

__all__ = ["QUEUED_S", "SUPPORTED_FAULTS", "WINDOW_S", "EchoEmulator"]

QUEUED_S = 5.0
PER_SECOND = 4.0
CANCELLING_S = 5.0
WINDOW_S = 24 * 3600.0
MAX_REQUESTS = 1000
SUPPORTED_FAULTS = frozenset(
    {
        "http_429", "retry_after", "http_500", "http_503", "create_lost", "create_dropped",
        "batch_404", "token_limit", "batch_expire", "line_error", "malformed", "shuffle",
        "duplicate", "unknown_id", "all_errors",
    }
)  # fmt: skip
"""Echo has no 529 and no result files, so `http_529` and `empty_error_file` do not apply."""

_LINE_ERRORS = (
    EchoError("invalid_request", "The prompt was refused.", 400),
    EchoError("rate_limited", "Too many requests in this batch.", 429),
    EchoError("server_error", "The request failed inside Echo.", 500),
)
_TERMINAL = frozenset({"done", "cancelled", "expired", "failed"})
_T = TypeVar("_T")


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.response = web.Response(
            status=status,
            body=msgspec.json.encode(ErrorBody(EchoError(type_, message))),
            content_type="application/json",
            headers=headers,
        )


def _answer(entry: EchoRequest | BatchEntry) -> EchoReply:
    words = min(12, entry.max_tokens or 12)
    text = text_answer(entry.prompt, request_seed(entry.model, entry.prompt), words=words)
    return EchoReply(entry.model, text, estimate_tokens(entry.prompt), estimate_tokens(text))


class _Batch:
    def __init__(self, view: BatchView, entries: list[BatchEntry], plan: FaultPlan) -> None:
        self.view = view
        self.entries = entries
        self.start = view.created_at + QUEUED_S
        self.stall = len(entries) // 2 if plan.hit("batch_expire", view.id) else None
        every = plan.hit("all_errors", view.id)
        self.failing = {
            i for i in range(len(entries)) if every or plan.hit("line_error", view.id, i)
        }
        self.cancel_at: float | None = None
        self.stopped = 0
        self.lines: list[bytes] = []

    def processed(self, at: float) -> int:
        done = max(0, min(len(self.entries), int((at - self.start) * PER_SECOND)))
        return done if self.stall is None else min(done, self.stall)


class EchoEmulator(EmulatorServer):
    """The Echo API under `base_url` (`http://127.0.0.1:PORT/v1`); any non-empty key works."""

    base_path = "/v1"

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        super().__init__()
        self.options = options or EmulatorOptions()
        self.plan = FaultPlan.parse(
            self.options.faults, seed=self.options.seed, allowed=SUPPORTED_FAULTS
        )
        self.clock = ScaledClock(self.options.time_scale)
        self._batches: dict[str, _Batch] = {}
        self._calls = itertools.count()

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[_auth])
        app.router.add_post("/v1/echo", self._echo)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{id}", self._get)
        app.router.add_post("/v1/batches/{id}/cancel", self._cancel)
        app.router.add_get("/v1/batches/{id}/results", self._results)
        return app

    async def _echo(self, request: web.Request) -> web.Response:
        body = await _decode(request, EchoRequest)
        call = next(self._calls)
        if self.plan.hit("http_429", call):
            wait = f"{self.plan.value('retry_after'):g}"
            raise ApiError(429, "rate_limited", "Slow down.", **{"retry-after": wait})
        for status in (500, 503):
            if self.plan.hit(f"http_{status}", call):
                raise ApiError(status, "server_error", "Echo is having a moment.")
        if not body.prompt:
            raise ApiError(400, "invalid_request", "The prompt must not be empty.")
        return _json(_answer(body))

    async def _create(self, request: web.Request) -> web.Response:
        body = await _decode(request, CreateBatch)
        if not body.requests or len(body.requests) > MAX_REQUESTS:
            raise ApiError(400, "invalid_request", f"A batch holds 1 to {MAX_REQUESTS} requests.")
        if len({e.id for e in body.requests}) != len(body.requests):
            raise ApiError(400, "invalid_request", "Request ids must be unique in a batch.")
        now = self.clock.now()
        view = BatchView(
            id=f"eb_{secrets.token_hex(12)}",
            status="queued",
            tag=body.tag,
            created_at=now,
            expires_at=now + WINDOW_S,
            counts=Counts(total=len(body.requests)),
        )
        self._batches[view.id] = _Batch(view, body.requests, self.plan)
        if self.plan.hit("create_dropped", view.id):
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if self.plan.hit("create_lost", view.id):
            raise ApiError(500, "server_error", "Echo lost track of that.")
        return _json(view)

    def _find(self, request: web.Request) -> _Batch:
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            raise ApiError(404, "not_found", "No such batch.")
        self._advance(batch)
        return batch

    async def _list(self, request: web.Request) -> web.Response:
        tag = request.query.get("tag")
        after = float(request.query.get("created_after", "0"))
        found = [
            b.view
            for b in reversed(self._batches.values())
            if b.view.created_at >= after and (tag is None or b.view.tag == tag)
        ]
        for view in found:
            self._advance(self._batches[view.id])
        return _json(BatchList(found))

    async def _get(self, request: web.Request) -> web.Response:
        batch = self._find(request)
        if self.clock.now() < batch.view.created_at + self.plan.value("batch_404") and (
            "batch_404" in self.plan
        ):
            raise ApiError(404, "not_found", "No such batch.")
        return _json(batch.view)

    async def _cancel(self, request: web.Request) -> web.Response:
        batch = self._find(request)
        if batch.view.status in ("queued", "running"):
            batch.cancel_at = self.clock.now()
            batch.stopped = batch.processed(batch.cancel_at)
            batch.view.status = "cancelling"
        elif batch.view.status != "cancelling":
            raise ApiError(409, "conflict", f"The batch is already {batch.view.status}.")
        return _json(batch.view)

    async def _results(self, request: web.Request) -> web.Response:
        batch = self._find(request)
        if batch.view.status not in _TERMINAL:
            raise ApiError(409, "conflict", "The batch has not ended.")
        body = b"".join(line + b"\n" for line in batch.lines)
        return web.Response(body=body, content_type="application/jsonl")

    def _advance(self, batch: _Batch) -> None:
        view, now = batch.view, self.clock.now()
        if view.status in _TERMINAL:
            return
        if view.status == "cancelling":
            if batch.cancel_at is not None and now >= batch.cancel_at + CANCELLING_S:
                self._finish(batch, "cancelled", batch.stopped)
            return
        if now < batch.start:
            return
        if self.plan.hit("token_limit", view.id):
            view.status, view.error = "failed", "token_limit_exceeded: too many queued tokens"
            return
        done = batch.processed(now)
        if now >= view.expires_at:
            self._finish(batch, "expired", batch.processed(view.expires_at))
        elif done >= len(batch.entries):
            self._finish(batch, "done", done)
        else:
            view.status = "running"
            self._count(batch, done)

    def _count(self, batch: _Batch, done: int) -> None:
        errored = sum(1 for i in batch.failing if i < done)
        batch.view.counts.succeeded, batch.view.counts.errored = done - errored, errored

    def _finish(self, batch: _Batch, status: str, done: int) -> None:
        """Write the result lines of the first `done` requests, faults applied."""
        plan, batch_id = self.plan, batch.view.id
        lines: list[bytes] = []
        for i, entry in enumerate(batch.entries[:done]):
            if i in batch.failing:
                error = _LINE_ERRORS[plan.pick("line_error", 3, batch_id, i)]
                lines.append(msgspec.json.encode(ResultLine(entry.id, error=error)))
                continue
            line = msgspec.json.encode(ResultLine(entry.id, reply=_answer(entry)))
            if plan.hit("malformed", batch_id, i):
                line = line[: len(line) // 2]
            lines.append(line)
            if plan.hit("duplicate", batch_id, i):
                lines.append(line)
            if plan.hit("unknown_id", batch_id, i):
                stray = ResultLine(f"stray-{i}", reply=_answer(entry))
                lines.append(msgspec.json.encode(stray))
        if plan.hit("shuffle", batch_id):
            random.Random(plan.roll("shuffle", batch_id)).shuffle(lines)
        batch.lines = lines
        batch.view.status = status
        self._count(batch, done)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any non-empty bearer key is accepted; errors come back as Echo's error body."""
    try:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not key.strip():
            raise ApiError(401, "unauthorized", "Send Authorization: Bearer <key>.")
        return await handler(request)
    except ApiError as exc:
        return exc.response


async def _decode(request: web.Request, into: type[_T]) -> _T:
    try:
        return msgspec.json.decode(await request.read(), type=into)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_request", f"Unreadable body: {exc}") from None


def _json(payload: object) -> web.Response:
    return web.Response(body=msgspec.json.encode(payload), content_type="application/json")
