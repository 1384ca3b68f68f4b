"""HTTP to the Gemini API over aiohttp: the key header, timeouts, error mapping, GET retries.

Only idempotent reads are retried here. A POST is sent once and any doubt about its outcome is
raised to the caller, which reconciles instead of repeating it. The key travels in the
`x-goog-api-key` header and nowhere else (never as `?key=`): messages name the method, the path
and Google's status, never the base URL, a query string or a header.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec
import structlog
from batchery.spi import ProviderError

from ._errors import classify, decode_error_body
from ._options import GeminiOptions

__all__ = ["GeminiHttp", "Reply", "decode_reply"]

_log = structlog.get_logger()

_T = TypeVar("_T")
_S = TypeVar("_S")
_INLINE_BODY = 256 * 1024
"""Bodies larger than this are streamed from a buffer, so a write never blocks the loop."""


def decode_reply(body: bytes, kind: type[_S], what: str) -> _S:
    """A 2xx body read as `kind`; an unreadable one is a retryable `bad_response`."""
    try:
        return msgspec.json.decode(body, type=kind)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        message = f"Gemini returned an unreadable {what}"
        raise ProviderError(message, code="bad_response", retryable=True) from exc


class Reply(msgspec.Struct, frozen=True):
    status: int
    headers: Mapping[str, str]
    body: bytes


class GeminiHttp:
    """One project's requests through a shared session."""

    __slots__ = ("_options", "_session")

    def __init__(self, options: GeminiOptions, session: aiohttp.ClientSession) -> None:
        self._options = options
        self._session = session

    @property
    def options(self) -> GeminiOptions:
        return self._options

    def _headers(self, extra: Mapping[str, str] | None, *, auth: bool = True) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if auth and self._options.api_key is not None:
            headers["x-goog-api-key"] = self._options.api_key.reveal()
        if extra:
            headers.update(extra)
        return headers

    def _transport_error(self, method: str, path: str, exc: BaseException) -> ProviderError:
        code = "timeout" if isinstance(exc, TimeoutError) else "connection_error"
        message = f"Gemini {method} {path}: {code} ({type(exc).__name__})"
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
            f"Gemini {method} {path}: {info.message}",
            code=info.code,
            status=reply.status,
            retryable=info.retryable,
            retry_after_s=info.retry_after_s,
        )

    def same_origin(self, url: str) -> str:
        """`url` moved onto the configured scheme and host, as the official SDK does for uploads.

        An upload URL names the server that issued it; keeping requests on the configured host
        means nothing of ours is ever sent to a host we were not pointed at.
        """
        base = urlsplit(self._options.base_url)
        given = urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, given.path, given.query, ""))

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: bytes | None = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
        auth: bool = True,
        timeout_s: float | None = None,
    ) -> Reply:
        """One attempt, whatever its status; transport failures raise a retryable error.

        `url` replaces the API path for a session URL the server handed out (`path` then only
        names the call in messages); `auth=False` leaves the key out of such a request.
        """
        sent = self._headers(headers, auth=auth)
        if json is not None:
            sent.setdefault("Content-Type", "application/json")
        payload = json if json is not None else data
        body = (
            io.BytesIO(payload) if payload is not None and len(payload) > _INLINE_BODY else payload
        )
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._options.request_timeout_s)
        try:
            async with self._session.request(
                method,
                url or self._options.url(path),
                data=body,
                params=params,
                headers=sent,
                timeout=timeout,
            ) as response:
                body = await response.read()
                return Reply(response.status, response.headers, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(method, path, exc) from exc

    async def post(self, path: str, *, json: bytes | None = None) -> bytes:
        """A POST sent exactly once; any failure is raised, retryable or not."""
        reply = await self.send("POST", path, json=json)
        if reply.status >= 300:
            raise self.error_for("POST", path, reply)
        return reply.body

    async def delete(self, path: str) -> bytes:
        reply = await self.send("DELETE", path)
        if reply.status >= 300:
            raise self.error_for("DELETE", path, reply)
        return reply.body

    def _backoff_s(self, attempt: int) -> float:
        options = self._options
        base = min(options.backoff_initial_s * 2.0 ** (attempt - 1), options.backoff_max_s)
        return base * random.uniform(0.75, 1.0)

    def _wait_before_retry(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before another GET, or None when this error ends the attempts."""
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
                _log.info("gemini.retry", path=path, code=error.code, attempt=attempt, wait_s=wait)
                await asyncio.sleep(wait)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> bytes:
        """An idempotent GET, retried on timeouts, connection errors and retryable statuses."""

        async def once() -> bytes:
            reply = await self.send("GET", path, params=params)
            if reply.status >= 300:
                raise self.error_for("GET", path, reply)
            return reply.body

        return await self._retrying(path, once)

    @asynccontextmanager
    async def download(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """A file's bytes as they arrive; only the opening of the stream is retried."""
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._options.request_timeout_s,
            sock_read=self._options.request_timeout_s,
        )

        async def once() -> aiohttp.ClientResponse:
            try:
                response = await self._session.get(
                    self._options.url(path),
                    params=params,
                    headers=self._headers(None),
                    timeout=timeout,
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
