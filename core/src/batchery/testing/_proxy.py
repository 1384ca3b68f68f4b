"""A counting reverse proxy on loopback, so the kit sees the bytes a provider really sends.

The provider is pointed at the proxy instead of its emulator; every request is forwarded as it
came and recorded with its method, path and body size. Absolute emulator URLs in replies (an
upload URL in a header, a link in a JSON body) are rewritten to the proxy, so a provider that
follows them still passes through it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from batchery.emulator import EmulatorServer

__all__ = ["CountingProxy", "Exchange"]

_HOP = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "host",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
    }
)
_TEXTUAL = ("application/json", "application/jsonl", "application/x-ndjson", "text/")


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    path: str
    sent_bytes: int
    status: int


class CountingProxy(EmulatorServer):
    """Forwards everything under its root to `target_root`, keeping a log of `exchanges`.

    An exchange is logged once its reply is back; `in_flight` counts the requests that have
    arrived and are not logged yet, so a test can tell a request sent before a moment from
    one sent after it.
    """

    def __init__(self, target_root: str) -> None:
        super().__init__()
        self._target = target_root.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self.exchanges: list[Exchange] = []
        self.in_flight = 0

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True)
        await super().start(host, port)

    async def close(self) -> None:
        await super().close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def since(self, mark: int) -> list[Exchange]:
        return self.exchanges[mark:]

    def sent_bytes(self, mark: int = 0, method: str = "POST") -> int:
        """Request-body bytes of every `method` request after `mark`."""
        return sum(e.sent_bytes for e in self.since(mark) if e.method == method)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return await self._relay(request)
        finally:
            self.in_flight -= 1

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        try:
            async with self._session.request(
                request.method,
                self._target + request.path_qs,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            ) as reply:
                payload = await reply.read()
                status = reply.status
                reply_headers = {
                    k: self._rewrite(v) for k, v in reply.headers.items() if k.lower() not in _HOP
                }
                textual = reply.content_type.startswith(_TEXTUAL)
        except aiohttp.ClientError:
            # The emulator dropped the connection: drop the provider's too, as it would see.
            self.exchanges.append(Exchange(request.method, request.path, len(body), 0))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError from None
        self.exchanges.append(Exchange(request.method, request.path, len(body), status))
        if textual:
            payload = payload.replace(self._target.encode(), self.root_url.encode())
        return web.Response(status=status, body=payload, headers=reply_headers)

    def _rewrite(self, value: str) -> str:
        return value.replace(self._target, self.root_url)
