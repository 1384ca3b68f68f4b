"""The HTTP client machinery every provider shares: timeouts, error mapping and GET retries.

A provider subclasses `ProviderHttp` and supplies only what is its own: its title for messages,
its auth headers, how a path becomes a URL and how an error reply is classified. Everything
else (per-request timeouts, transport failures, the retry policy, streamed downloads) lives
here once, so the providers cannot drift apart on the rules that keep batches safe:

- a POST is sent exactly once, and any doubt about its outcome is raised to the caller, which
  reconciles instead of repeating it (see `batchery.spi`);
- only idempotent calls are retried: retryable errors only, at most `max_get_attempts` in all,
  with jittered exponential backoff or the server's `retry-after` up to a cap (a longer wait
  ends the attempts rather than hold a worker);
- messages name the provider, the method and the path, never a URL, a query string or a
  header, so a key can never leak through an error, a log line or a repr;
- a request that creates or spends (anything but a GET) first passes the caller's `fence`, if
  one is set for the task: the job's lease is checked right before each such request, even
  between the upload and the create inside one `submit_batch`.
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import random
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import IO, ClassVar, Generic, TypeVar

import aiohttp
import msgspec
import structlog

from batchery.model import ErrorInfo
from batchery.spi import ProviderError

__all__ = [
    "Body",
    "HttpPolicy",
    "ProviderHttp",
    "Reply",
    "create_session",
    "fence",
    "retry_after_s",
]

_log = structlog.get_logger()

_T = TypeVar("_T")
_S = TypeVar("_S")
PolicyT = TypeVar("PolicyT", bound="HttpPolicy")

Body = bytes | IO[bytes] | aiohttp.FormData
"""What a request may carry: bytes, a file read as it is sent, or a multipart form."""

_TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)

_fence: ContextVar[Callable[[], None] | None] = ContextVar("batchery_http_fence", default=None)


@contextmanager
def fence(check: Callable[[], None]) -> Iterator[None]:
    """Call `check` (which raises to refuse) before every non-GET request of this task and
    of the tasks it starts inside the block."""
    token = _fence.set(check)
    try:
        yield
    finally:
        _fence.reset(token)


class Reply(msgspec.Struct, frozen=True):
    """One response, read whole, whatever its status."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class HttpPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The client's time budgets and retry knobs; provider options subclass it.

    Subclassing keeps the fields flat on each provider's options (`max_get_attempts=2`, as
    settings files spell them) while the rules that read them live in one place.
    """

    request_timeout_s: float = 60.0
    max_get_attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    retry_after_cap_s: float = 60.0
    max_connections: int = 64

    def __post_init__(self) -> None:
        if self.max_get_attempts < 1:
            raise ValueError("max_get_attempts must be at least 1")
        if self.request_timeout_s <= 0:
            raise ValueError("timeouts must be positive")

    def wait_before_retry(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait after failed attempt number `attempt`, or None to stop trying."""
        if not error.retryable or attempt >= self.max_get_attempts:
            return None
        if error.retry_after_s is not None and error.retry_after_s > 0:
            return error.retry_after_s if error.retry_after_s <= self.retry_after_cap_s else None
        base = min(self.backoff_initial_s * 2.0 ** (attempt - 1), self.backoff_max_s)
        return base * random.uniform(0.75, 1.0)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait a server asked for: `retry-after-ms`, then `retry-after` (seconds or an HTTP
    date); None when neither is there or readable. A wait in the past is zero."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def create_session(policy: HttpPolicy, *, user_agent: str) -> aiohttp.ClientSession:
    """A session sized for one provider account; call it inside a running event loop.

    Each request sets its own total timeout; this default only bounds connecting and idle
    reads, so a forgotten request cannot hang forever.
    """
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=policy.request_timeout_s,
        sock_read=policy.request_timeout_s,
    )
    connector = aiohttp.TCPConnector(limit=policy.max_connections, limit_per_host=0)
    return aiohttp.ClientSession(
        timeout=timeout,
        connector=connector,
        raise_for_status=False,
        headers={"User-Agent": user_agent},
    )


class ProviderHttp(ABC, Generic[PolicyT]):
    """One account's requests through a shared session.

    A base class rather than a helper the provider holds: the hooks need the provider's own
    options, and call sites keep calling `send`/`post`/`get`/`download` on the provider's
    client, which adds only its own extras (an upload URL check, a DELETE).
    """

    title: ClassVar[str]
    """The provider as messages name it ("OpenAI"); lower-cased, it prefixes log events."""

    stream_above: ClassVar[int | None] = None
    """Bodies of more bytes are sent from a buffer rather than inline; None sends all inline."""

    __slots__ = ("_options", "_session")

    def __init__(self, options: PolicyT, session: aiohttp.ClientSession) -> None:
        self._options = options
        self._session = session

    @property
    def options(self) -> PolicyT:
        return self._options

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """The provider's own headers (key, API version) for a request to its API."""

    @abstractmethod
    def url(self, path: str) -> str:
        """The URL of an API path; the key is never part of it."""

    @abstractmethod
    def classify(self, reply: Reply) -> ErrorInfo:
        """A non-2xx reply classified as the realtime calls classify it, its key redacted."""

    def decode(self, body: bytes, kind: type[_S], what: str) -> _S:
        """A 2xx `body` read as `kind`; an unreadable one is a retryable `bad_response`."""
        try:
            return msgspec.json.decode(body, type=kind)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            message = f"{self.title} returned an unreadable {what}"
            raise ProviderError(message, code="bad_response", retryable=True) from exc

    def error_for(self, method: str, path: str, reply: Reply) -> ProviderError:
        """A `ProviderError` for a non-2xx reply."""
        info = self.classify(reply)
        return ProviderError(
            f"{self.title} {method} {path}: {info.message}",
            code=info.code,
            status=reply.status,
            retryable=info.retryable,
            retry_after_s=info.retry_after_s,
        )

    def _transport_error(self, method: str, path: str, exc: BaseException) -> ProviderError:
        """A retryable error for a timeout or a broken connection, by name only."""
        code = "timeout" if isinstance(exc, TimeoutError) else "connection_error"
        message = f"{self.title} {method} {path}: {code} ({type(exc).__name__})"
        return ProviderError(message, code=code, retryable=True)

    def _headers(self, extra: Mapping[str, str] | None, *, auth: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if auth:
            headers.update(self.headers())
        if extra:
            headers.update(extra)
        return headers

    def _payload(self, body: Body | None) -> Body | None:
        limit = self.stream_above
        if limit is not None and isinstance(body, bytes) and len(body) > limit:
            return io.BytesIO(body)
        return body

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: bytes | IO[bytes] | None = None,
        data: Body | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
        auth: bool = True,
        timeout_s: float | None = None,
    ) -> Reply:
        """One attempt, whatever its status; transport failures raise a retryable error.

        `json` is sent as `application/json` (unless `headers` say otherwise), `data` as it is.
        `url` replaces the API path for a URL the server handed out (`path` then only names the
        call in messages); `auth=False` leaves the provider's headers out of such a request.
        """
        check = _fence.get()
        if check is not None and method != "GET":
            check()
        sent = self._headers(None, auth=auth)
        if json is not None:
            sent["Content-Type"] = "application/json"
        if headers:
            sent.update(headers)
        timeout = aiohttp.ClientTimeout(total=timeout_s or self._options.request_timeout_s)
        try:
            async with self._session.request(
                method,
                url or self.url(path),
                data=self._payload(json if json is not None else data),
                params=params,
                headers=sent,
                timeout=timeout,
            ) as response:
                body = await response.read()
                return Reply(response.status, response.headers, body)
        except _TRANSPORT_ERRORS as exc:
            raise self._transport_error(method, path, exc) from exc

    def _checked(self, method: str, path: str, reply: Reply) -> bytes:
        if reply.status >= 300:
            raise self.error_for(method, path, reply)
        return reply.body

    async def post(
        self,
        path: str,
        *,
        json: bytes | IO[bytes] | None = None,
        data: Body | None = None,
        timeout_s: float | None = None,
    ) -> bytes:
        """A POST sent exactly once; any failure is raised, retryable or not."""
        reply = await self.send("POST", path, json=json, data=data, timeout_s=timeout_s)
        return self._checked("POST", path, reply)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> bytes:
        """An idempotent GET, retried on transport failures and retryable statuses."""
        return await self.idempotent("GET", path, params)

    async def idempotent(
        self, method: str, path: str, params: Mapping[str, str] | None = None
    ) -> bytes:
        """A call that may safely repeat (a GET, a cancel), retried like a GET."""

        async def once() -> bytes:
            return self._checked(method, path, await self.send(method, path, params=params))

        return await self._retrying(path, once)

    async def _retrying(self, path: str, attempt_once: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once()
            except ProviderError as error:
                wait = self._options.wait_before_retry(attempt, error)
                if wait is None:
                    raise
                _log.info(
                    f"{self.title.lower()}.retry",
                    path=path,
                    code=error.code,
                    attempt=attempt,
                    wait_s=wait,
                )
                await asyncio.sleep(wait)

    @asynccontextmanager
    async def download(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """A file's bytes as they arrive; only the opening of the stream is retried.

        There is no total timeout, only idle ones, since a large file may take long. `url`
        reads from a URL the server handed out, named in messages by `path`.
        """
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._options.request_timeout_s,
            sock_read=self._options.request_timeout_s,
        )

        async def once() -> aiohttp.ClientResponse:
            try:
                response = await self._session.get(
                    url or self.url(path),
                    params=params,
                    headers=self._headers(headers, auth=True),
                    timeout=timeout,
                )
            except _TRANSPORT_ERRORS as exc:
                raise self._transport_error("GET", path, exc) from exc
            if response.status >= 300:
                try:
                    body = await response.read()
                except _TRANSPORT_ERRORS as exc:
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
        except _TRANSPORT_ERRORS as exc:
            raise self._transport_error("GET", path, exc) from exc
