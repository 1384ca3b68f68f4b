"""HTTP to Anthropic over aiohttp: headers, timeouts, error mapping and the retry policy.

Only idempotent calls (reads and cancel) are retried here. A create is sent once and any doubt
about its outcome is raised to the caller, which reconciles instead of repeating it. The key is
in the `x-api-key` header and nowhere else: messages name the method, the path and Anthropic's
error type, never the base URL or a header.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import IO, TypeVar
from urllib.parse import urlsplit

import aiohttp
import msgspec
import structlog
from batchery.spi import ProviderError

from ._errors import classify, decode_error_body
from ._options import AnthropicOptions

__all__ = ["AnthropicHttp", "Reply"]

_log = structlog.get_logger()

_T = TypeVar("_T")

Body = bytes | IO[bytes]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


class Reply(msgspec.Struct, frozen=True):
    status: int
    headers: Mapping[str, str]
    body: bytes


class AnthropicHttp:
    """One workspace's requests through a shared session."""

    __slots__ = ("_options", "_session")

    def __init__(self, options: AnthropicOptions, session: aiohttp.ClientSession) -> None:
        self._options = options
        self._session = session

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept, "anthropic-version": self._options.version}
        if self._options.api_key is not None:
            headers["x-api-key"] = self._options.api_key.reveal()
        return headers

    def _url(self, target: str) -> str:
        return target if target.startswith(("http://", "https://")) else self._options.url(target)

    def same_origin(self, url: str) -> bool:
        """Whether `url` is served by the configured base URL's host, so the key may go there."""
        try:
            return _origin(url) == _origin(self._options.base_url)
        except ValueError:
            return False

    def _transport_error(self, method: str, path: str, exc: BaseException) -> ProviderError:
        code = "timeout" if isinstance(exc, TimeoutError) else "connection_error"
        message = f"Anthropic {method} {path}: {code} ({type(exc).__name__})"
        return ProviderError(message, code=code, retryable=True)

    def error_for(self, method: str, path: str, reply: Reply) -> ProviderError:
        """A `ProviderError` for a non-2xx reply, classified like a realtime error."""
        info = classify(
            reply.status,
            decode_error_body(reply.body),
            headers=reply.headers,
            secret=self._options.api_key,
        )
        return ProviderError(
            f"Anthropic {method} {path}: {info.message}",
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
        body: Body | None = None,
        params: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        """One attempt, whatever its status; transport failures raise a retryable error."""
        headers = self._headers()
        if body is not None:
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._options.request_timeout_s)
        try:
            async with self._session.request(
                method,
                self._url(path),
                data=body,
                params=params,
                headers=headers,
                timeout=timeout,
            ) as response:
                data = await response.read()
                return Reply(response.status, response.headers, data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(method, path, exc) from exc

    async def create(self, path: str, body: Body) -> bytes:
        """A POST sent exactly once; any failure is raised, retryable or not."""
        reply = await self.send("POST", path, body=body, timeout_s=self._options.create_timeout_s)
        if reply.status >= 300:
            raise self.error_for("POST", path, reply)
        return reply.body

    def _backoff_s(self, attempt: int) -> float:
        options = self._options
        base = min(options.backoff_initial_s * 2.0 ** (attempt - 1), options.backoff_max_s)
        return base * random.uniform(0.75, 1.0)

    def _wait_before_retry(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before another attempt, or None when this error ends the attempts."""
        if not error.retryable or attempt >= self._options.max_get_attempts:
            return None
        if error.retry_after_s is not None and error.retry_after_s > 0:
            if error.retry_after_s > self._options.retry_after_cap_s:
                return None
            return error.retry_after_s
        return self._backoff_s(attempt)

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
                _log.info(
                    "anthropic.retry", path=path, code=error.code, attempt=attempt, wait_s=wait
                )
                await asyncio.sleep(wait)

    async def idempotent(
        self, method: str, path: str, params: Mapping[str, str] | None = None
    ) -> bytes:
        """A GET, or a POST that may safely repeat (cancel), retried on transient failures."""

        async def once() -> bytes:
            reply = await self.send(method, path, params=params)
            if reply.status >= 300:
                raise self.error_for(method, path, reply)
            return reply.body

        return await self._retrying(path, once)

    @asynccontextmanager
    async def download(self, url: str, path: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """A body's bytes as they arrive from `url`; only opening the stream is retried.

        `path` names the resource in error messages, so a URL never appears in one.
        """
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._options.request_timeout_s,
            sock_read=self._options.request_timeout_s,
        )

        async def once() -> aiohttp.ClientResponse:
            try:
                response = await self._session.get(
                    url, headers=self._headers("application/binary"), timeout=timeout
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
