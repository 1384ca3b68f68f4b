"""HTTP to Voyage over aiohttp: headers, timeouts, error mapping and the GET retry policy.

Only idempotent reads are retried here. A POST is sent once and any doubt about its outcome is
raised to the caller, which reconciles instead of repeating it. The key travels in the
`Authorization` header and nowhere else: messages name the method, the path and Voyage's
`detail`, never the base URL or a header.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TypeVar

import aiohttp
import msgspec
import structlog
from batchery.spi import ProviderError

from ._errors import classify, message_of
from ._options import VoyageOptions

__all__ = ["Reply", "VoyageHttp"]

_log = structlog.get_logger()

_T = TypeVar("_T")


class Reply(msgspec.Struct, frozen=True):
    status: int
    headers: Mapping[str, str]
    body: bytes


class VoyageHttp:
    """One account's requests through a shared session."""

    __slots__ = ("_options", "_session")

    def __init__(self, options: VoyageOptions, session: aiohttp.ClientSession) -> None:
        self._options = options
        self._session = session

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._options.api_key is not None:
            headers["Authorization"] = f"Bearer {self._options.api_key.reveal()}"
        return headers

    def _transport_error(self, method: str, path: str, exc: BaseException) -> ProviderError:
        code = "timeout" if isinstance(exc, TimeoutError) else "connection_error"
        message = f"Voyage {method} {path}: {code} ({type(exc).__name__})"
        return ProviderError(message, code=code, retryable=True)

    def error_for(self, method: str, path: str, reply: Reply) -> ProviderError:
        """A `ProviderError` for a non-2xx reply, classified like a realtime error."""
        info = classify(
            reply.status,
            message_of(reply.body),
            headers=reply.headers,
            secret=self._options.api_key,
        )
        return ProviderError(
            f"Voyage {method} {path}: {info.message}",
            code=info.code,
            status=reply.status,
            retryable=info.retryable,
            retry_after_s=info.retry_after_s,
        )

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: bytes | None = None,
        data: aiohttp.FormData | None = None,
        params: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        """One attempt, whatever its status; transport failures raise a retryable error."""
        headers = self._headers()
        if json is not None:
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._options.request_timeout_s)
        try:
            async with self._session.request(
                method,
                self._options.url(path),
                data=json if json is not None else data,
                params=params,
                headers=headers,
                timeout=timeout,
            ) as response:
                body = await response.read()
                return Reply(response.status, response.headers, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(method, path, exc) from exc

    async def post(
        self,
        path: str,
        *,
        json: bytes | None = None,
        data: aiohttp.FormData | None = None,
        timeout_s: float | None = None,
    ) -> bytes:
        """A POST sent exactly once; any failure is raised, retryable or not."""
        reply = await self.send("POST", path, json=json, data=data, timeout_s=timeout_s)
        if reply.status >= 300:
            raise self.error_for("POST", path, reply)
        return reply.body

    def _wait_before_retry(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before another GET, or None when this error ends the attempts."""
        options = self._options
        if not error.retryable or attempt >= options.max_get_attempts:
            return None
        if error.retry_after_s is not None and error.retry_after_s > 0:
            return error.retry_after_s if error.retry_after_s <= options.retry_after_cap_s else None
        base = min(options.backoff_initial_s * 2.0 ** (attempt - 1), options.backoff_max_s)
        return base * random.uniform(0.75, 1.0)

    async def _retrying(self, path: str, attempt_once: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once()
            except ProviderError as error:
                wait = self._wait_before_retry(attempt, error)
                if wait is None:
                    raise
                _log.info("voyage.retry", path=path, code=error.code, attempt=attempt, wait_s=wait)
                await asyncio.sleep(wait)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> bytes:
        """An idempotent GET, retried on timeouts, connection errors, 408/409/429 and 5xx."""

        async def once() -> bytes:
            reply = await self.send("GET", path, params=params)
            if reply.status >= 300:
                raise self.error_for("GET", path, reply)
            return reply.body

        return await self._retrying(path, once)

    @asynccontextmanager
    async def download(self, path: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """A file's bytes as they arrive; only the opening of the stream is retried."""
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._options.request_timeout_s,
            sock_read=self._options.request_timeout_s,
        )

        async def once() -> aiohttp.ClientResponse:
            try:
                response = await self._session.get(
                    self._options.url(path), headers=self._headers(), timeout=timeout
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self._transport_error("GET", path, exc) from exc
            if response.status >= 300:
                try:
                    body = await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise self._transport_error("GET", path, exc) from exc
                finally:
                    response.release()
                raise self.error_for("GET", path, Reply(response.status, response.headers, body))
            return response

        response = await self._retrying(path, once)
        try:
            yield self._chunks(response, path)
        finally:
            response.close()

    async def _chunks(self, response: aiohttp.ClientResponse, path: str) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error("GET", path, exc) from exc
