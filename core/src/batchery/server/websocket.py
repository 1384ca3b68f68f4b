"""The per-run WebSocket feed: refuse before `accept`, then replay and follow in `seq` order.

Protocol (subprotocol `batchery.v1`): the server sends `events` frames, each a run of
consecutive events, starting after the `after_seq` query parameter, and closes with 1000 after
`RunFinished`. A socket that falls further behind than the shared ring reaches gets a `resync`
frame naming its last `seq` and is closed with 1013; so is one that cannot take a frame within
the send timeout. The client sends nothing: any message closes the socket with 1008.

Refusals happen before the handshake completes and reveal nothing: with the ASGI denial-response
extension (uvicorn) the client gets an HTTP status (400, 401, 403, 404, 429) and a one-word
body; otherwise the socket is closed with 4000 + that status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

import msgspec
import structlog
from litestar import WebSocket
from litestar.types import WebSocketResponseBodyEvent, WebSocketResponseStartEvent

from batchery.server import metrics
from batchery.server.auth import Authenticator, bearer_of
from batchery.server.config import ServerConfig
from batchery.server.feed import EncodedFrame, FeedRegistry, FrameBudget, RunFeed, frames_of
from batchery.server.limits import ConnectionLimits
from batchery.server.node_runs import is_run
from batchery.server.owners import RunOwners
from batchery.server.tickets import Tickets
from batchery.server.wire import (
    CLOSE_PROTOCOL,
    CLOSE_SLOW,
    SUBPROTOCOL,
    TICKET_PREFIX,
    ResyncFrame,
)
from batchery.store import JobStore

__all__ = ["FeedGate", "Refusal"]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("batchery.server")

_MAX_SEQ: Final = 2**53
_DENIAL: Final = "websocket.http.response"


class Refusal(NamedTuple):
    status: int
    reason: str


BAD_REQUEST: Final = Refusal(400, "bad request")
UNAUTHORIZED: Final = Refusal(401, "unauthorized")
FORBIDDEN: Final = Refusal(403, "forbidden")
NOT_FOUND: Final = Refusal(404, "not found")
TOO_MANY: Final = Refusal(429, "too many connections")

_FINISHED: Final = (1000, "run finished")
_SLOW: Final = (CLOSE_SLOW, "slow consumer")
_UNEXPECTED: Final = (CLOSE_PROTOCOL, "unexpected message")


class _Grant(NamedTuple):
    tenant: str
    ip: str
    after_seq: int


class _Slow(Exception):
    """The socket did not take a frame within the send timeout."""


class FeedGate:
    """Authorises progress sockets and serves the ones it lets in."""

    def __init__(
        self,
        *,
        config: ServerConfig,
        store: JobStore,
        auth: Authenticator,
        tickets: Tickets,
        owners: RunOwners,
        feeds: FeedRegistry,
        limits: ConnectionLimits,
    ) -> None:
        self._config = config
        self._store = store
        self._auth = auth
        self._tickets = tickets
        self._owners = owners
        self._feeds = feeds
        self._limits = limits
        self._resync = msgspec.json.Encoder()

    async def serve(self, socket: WebSocket[Any, Any, Any], run_id: str) -> None:
        grant = await self._authorise(socket, run_id)
        if isinstance(grant, Refusal):
            await _refuse(socket, grant)
            return
        if not self._limits.acquire(grant.tenant, grant.ip):
            await _refuse(socket, TOO_MANY)
            return
        metrics.SOCKETS_OPEN.inc()
        try:
            await socket.accept(subprotocols=SUBPROTOCOL)
            code, reason = await self._follow(socket, run_id, grant.after_seq)
            if code:
                metrics.SOCKETS_CLOSED.labels(reason).inc()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await socket.close(code, reason)
        finally:
            metrics.SOCKETS_OPEN.dec()
            self._limits.release(grant.tenant, grant.ip)

    async def _authorise(self, socket: WebSocket[Any, Any, Any], run_id: str) -> _Grant | Refusal:
        """Origin, then credentials, then the request itself, then ownership: a caller without
        valid credentials learns nothing about what the request would have been answered, and
        a ticket is never spent from an origin that may not use it."""
        offered: list[str] = list(socket.scope.get("subprotocols") or [])
        origin = socket.headers.get("origin")
        ticket = next((p[len(TICKET_PREFIX) :] for p in offered if p.startswith(TICKET_PREFIX)), "")
        if not self._auth.origin_allowed(origin, required=bool(ticket)):
            return FORBIDDEN
        if ticket:
            tenant = await self._tickets.redeem(ticket, run_id)
        else:
            tenant = self._auth.tenant_of(bearer_of(socket))
        if tenant is None:
            return UNAUTHORIZED
        raw_after = socket.query_params.get("after_seq", "0")
        if SUBPROTOCOL not in offered or not raw_after.isdigit() or int(raw_after) > _MAX_SEQ:
            return BAD_REQUEST
        if not await self._owners.owns(tenant, run_id) or not await is_run(self._store, run_id):
            return NOT_FOUND
        client = socket.client
        return _Grant(tenant, client.host if client else "", int(raw_after))

    async def _follow(
        self, socket: WebSocket[Any, Any, Any], run_id: str, after_seq: int
    ) -> tuple[int, str]:
        async with self._feeds.follow(run_id) as feed:
            sender = asyncio.create_task(self._send_all(socket, feed, after_seq))
            receiver = asyncio.create_task(_listen(socket))
            try:
                done, _ = await asyncio.wait(
                    (sender, receiver), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for task in (sender, receiver):
                    task.cancel()
                await asyncio.gather(sender, receiver, return_exceptions=True)
            finished = done.pop()
            if finished.cancelled() or finished.exception() is not None:
                if not finished.cancelled():
                    _log.error(
                        "progress socket failed", run_id=run_id, exc_info=finished.exception()
                    )
                return 1011, "internal error"
            return finished.result()

    async def _send_all(
        self, socket: WebSocket[Any, Any, Any], feed: RunFeed, cursor: int
    ) -> tuple[int, str]:
        """Send every event after `cursor` in order; the close code and reason when done.

        A live socket sends at most one frame per tick, the frame its neighbours at the same
        position send too; a socket starting behind the ring reads the log first, one page at a
        time, so what a socket holds is one page and one frame however long the run.
        """
        config = self._config
        budget = FrameBudget(config.max_frame_events, config.max_frame_bytes)
        live = False
        page = budget.page_after(())
        while True:
            frame = feed.frame(cursor, budget)
            frames: Iterable[EncodedFrame]
            if frame is not None and frame.first == cursor + 1:
                live = True
                frames = (frame,)
            elif frame is not None:
                if live:
                    await self._send_resync(socket, cursor)
                    return _SLOW
                rows = await self._store.events(feed.run_id, after_seq=cursor, limit=page)
                page = budget.page_after(rows)
                frames = frames_of(rows, budget)
                del rows  # the frames hold the page until they are sent, and no longer
            elif feed.finished_at is not None and cursor >= feed.finished_at:
                return _FINISHED
            else:
                await feed.changed()
                continue
            for each in frames:
                try:
                    await self._send_frame(socket, each)
                except _Slow:
                    return _SLOW
                cursor = each.last
                if each.finished:
                    return _FINISHED
            if live and cursor >= feed.head:
                await feed.changed()

    async def _send_frame(self, socket: WebSocket[Any, Any, Any], frame: EncodedFrame) -> None:
        try:
            async with asyncio.timeout(self._config.send_timeout_s):
                await socket.send_text(frame.text)
        except TimeoutError:
            raise _Slow from None
        metrics.FRAMES_SENT.inc()
        metrics.EVENTS_SENT.inc(frame.last - frame.first + 1)

    async def _send_resync(self, socket: WebSocket[Any, Any, Any], cursor: int) -> None:
        frame = ResyncFrame(after_seq=cursor, reason="slow_consumer")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._config.send_timeout_s):
                await socket.send_text(self._resync.encode(frame).decode())


async def _listen(socket: WebSocket[Any, Any, Any]) -> tuple[int, str]:
    """Wait for the client to leave (nothing to close) or to break the protocol by talking."""
    message = await socket.receive()
    if message["type"] == "websocket.disconnect":
        return 0, ""
    return _UNEXPECTED


async def _refuse(socket: WebSocket[Any, Any, Any], refusal: Refusal) -> None:
    metrics.SOCKETS_REFUSED.labels(refusal.reason).inc()
    if _DENIAL in (socket.scope.get("extensions") or {}):
        body = refusal.reason.encode()
        start: WebSocketResponseStartEvent = {
            "type": "websocket.http.response.start",
            "status": refusal.status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
        done: WebSocketResponseBodyEvent = {
            "type": "websocket.http.response.body",
            "body": body,
            "more_body": False,
        }
        await socket.send(start)
        await socket.send(done)
        return
    await socket.close(4000 + refusal.status, refusal.reason)
