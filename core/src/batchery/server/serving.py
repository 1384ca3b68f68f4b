"""Running the server under uvicorn with the limits the progress feed needs.

Clients send the feed nothing but control frames, so a message over 64 KiB is refused (1009);
per-message compression is off (it costs a zlib context per socket and CPU per frame); pings
find dead peers. Forwarded headers are ignored unless proxies are named, so client addresses
(and the per-address cap) cannot be spoofed. A peer that stops reading holds at most
`WRITE_BUFFER_HIGH` bytes plus one frame here (see `FeedWebSocketProtocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Final, cast

import msgspec
import uvicorn
from litestar import Litestar
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = [
    "CLOSE_GRACE_S",
    "WRITE_BUFFER_HIGH",
    "FeedWebSocketProtocol",
    "RunningServer",
    "bind",
    "origin_of",
    "serve_in_background",
    "uvicorn_config",
]

WS_MAX_SIZE: Final = 64 * 1024

WRITE_BUFFER_HIGH: Final = 64 * 1024
"""Bytes a socket's transport may hold before a send waits for the peer to read."""

CLOSE_GRACE_S: Final = 10.0
"""How long a closed socket's peer has to read up to the close frame before it is cut off."""

_DENIAL_NOISE: Final = "ASGI callable returned without completing handshake."


class _DenialIsComplete(logging.Filter):
    """uvicorn's sans-I/O WebSocket protocol logs an error after every denial response (an
    HTTP status sent instead of `accept`), which is how the feed refuses; drop that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DENIAL_NOISE


def _quiet_denials() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DenialIsComplete) for f in logger.filters):
        logger.addFilter(_DenialIsComplete())


class FeedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, safe against peers that stop reading.

    Sends already wait while the transport holds more than its high-water mark; this sets the
    mark (so what waits for one socket is bounded in bytes, whatever the event loop's default),
    lets a close frame past it (a close must not queue behind the very data the peer does not
    read, or the peer never learns why it was dropped), and hangs up on a peer that has not
    read up to the close within `CLOSE_GRACE_S`, discarding what it left unread. uvicorn's own
    close timer would only ask the transport to close after flushing, which a peer that never
    reads never lets happen: the buffer would stay for as long as the peer stays connected.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        cast(asyncio.Transport, transport).set_write_buffer_limits(high=WRITE_BUFFER_HIGH)

    async def send(self, message: ASGISendEvent) -> None:
        closing = (
            message["type"] == "websocket.close"
            and self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
        )
        if closing:
            self.writable.set()
        await super().send(message)
        if closing and self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(CLOSE_GRACE_S, self._hang_up)

    def _hang_up(self) -> None:
        self.close_timer = None
        if self.transport.get_write_buffer_size():
            self.transport.abort()
        else:
            self.transport.close()


def uvicorn_config(
    app: Litestar,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    trusted_proxies: Sequence[str] = (),
    backlog: int = 2048,
) -> uvicorn.Config:
    _quiet_denials()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=FeedWebSocketProtocol,
        ws_max_size=WS_MAX_SIZE,
        ws_per_message_deflate=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies) or None,
        backlog=backlog,
        timeout_graceful_shutdown=5,
    )


class RunningServer(msgspec.Struct):
    server: uvicorn.Server
    url: str


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; binding before the app exists lets its allowed origins carry the
    real port (connections wait in the backlog until the server starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


def origin_of(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_in_background(
    app: Litestar, listener: socket.socket | None = None
) -> AsyncIterator[RunningServer]:
    """Serve `app` in this event loop until the block ends, on `listener` or a free port."""
    listener = listener or bind()
    host, port = listener.getsockname()[:2]
    server = uvicorn.Server(uvicorn_config(app, host=host, port=port))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield RunningServer(server, origin_of(listener))
    finally:
        server.should_exit = True
        await task
