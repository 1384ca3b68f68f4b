"""`EchoProvider`: Batchery's provider protocol over the Echo API.

The rules every provider follows, each visible here: a create is sent once and any doubt is
raised as retryable (core reconciles with `find_batch`); results are matched by id and read
line by line, so one bad line never ends a collect; errors are classified retryable or not;
and the key lives in a `Secret`, revealed only for the Authorization header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import ClassVar, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
from batchery.model import (
    BatchState,
    BatchStatus,
    ErrorInfo,
    LlmRequest,
    LlmResult,
    Mode,
    RequestKind,
    Usage,
)
from batchery.secrets import Secret
from batchery.spi import (
    BatchNotFoundError,
    CollectedLine,
    MalformedLine,
    ProviderError,
    ProviderInfo,
    ProviderLimits,
)

from batchery_echo._wire import (
    BatchEntry,
    BatchList,
    BatchView,
    CreateBatch,
    EchoError,
    EchoReply,
    EchoRequest,
    ErrorBody,
    ResultLine,
)

__all__ = ["EchoOptions", "EchoProvider"]

_S = TypeVar("_S")
_STATUSES = {
    "queued": BatchStatus.VALIDATING,
    "running": BatchStatus.IN_PROGRESS,
    "cancelling": BatchStatus.CANCELLING,
    "done": BatchStatus.COMPLETED,
    "cancelled": BatchStatus.CANCELLED,
    "expired": BatchStatus.EXPIRED,
    "failed": BatchStatus.FAILED,
}
_RETRYABLE_TYPES = frozenset({"rate_limited", "server_error", "overloaded"})
_RESULT = msgspec.json.Decoder(ResultLine)


class EchoOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Where Echo is and the key for it; the repr never shows the key (it is a `Secret`)."""

    base_url: str = "https://api.echo.example/v1"
    api_key: Secret | None = None
    timeout_s: float = 60.0


def _prompt(request: LlmRequest) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in request.messages)


def _state(view: BatchView) -> BatchState:
    return BatchState(
        batch_id=view.id,
        status=_STATUSES.get(view.status, BatchStatus.IN_PROGRESS),
        created_at=view.created_at,
        total=view.counts.total,
        completed=view.counts.succeeded,
        failed=view.counts.errored,
        tag=view.tag,
        error=view.error,
    )


def _error(error: EchoError | None, status: int | None) -> ErrorInfo:
    kind = error.type if error is not None else "unknown"
    retryable = kind in _RETRYABLE_TYPES or status in (408, 409, 429) or (status or 0) >= 500
    message = f"Echo {kind}: {error.message}" if error is not None else f"Echo HTTP {status}"
    return ErrorInfo(code=kind, message=message[:300], retryable=retryable, status=status)


class EchoProvider:
    INFO: ClassVar[ProviderInfo] = ProviderInfo(
        name="echo",
        title="Echo (example plugin)",
        kinds=frozenset({RequestKind.CHAT}),
        limits=ProviderLimits(max_requests_per_batch=1000, max_bytes_per_batch=1_000_000),
        default_models={RequestKind.CHAT: "echo-1"},
        key_env="ECHO_API_KEY",
        base_url_env="ECHO_BASE_URL",
    )

    def __init__(self, options: EchoOptions, session: aiohttp.ClientSession) -> None:
        self._options = options
        self._session = session

    def __repr__(self) -> str:
        return f"EchoProvider(base_url={self._options.base_url!r})"

    @property
    def info(self) -> ProviderInfo:
        return self.INFO

    def _entry(self, request: LlmRequest) -> BatchEntry:
        model = request.model or self.INFO.default_models[RequestKind.CHAT]
        return BatchEntry(request.custom_id, model, _prompt(request), request.max_tokens)

    def batch_size_of(self, request: LlmRequest) -> int:
        """The entry's JSON plus the comma that separates it from the next one."""
        return len(msgspec.json.encode(self._entry(request))) + 1

    def check(self, request: LlmRequest) -> str | None:
        if request.kind is not RequestKind.CHAT:
            return f"Echo serves chat requests only, not {request.kind.value}"
        return None if _prompt(request) else "Echo needs a non-empty prompt"

    async def _send(
        self, method: str, path: str, body: object = None, params: Mapping[str, str] | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request; a transport failure is a retryable error naming only method and path."""
        headers = {"Content-Type": "application/json"}
        if self._options.api_key is not None:
            headers["Authorization"] = f"Bearer {self._options.api_key.reveal()}"
        data = msgspec.json.encode(body) if body is not None else None
        try:
            async with self._session.request(
                method,
                self._options.base_url.rstrip("/") + path,
                data=data,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._options.timeout_s),
            ) as response:
                return response.status, response.headers, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            message = f"Echo {method} {path}: {type(exc).__name__}"
            raise ProviderError(message, code="connection_error", retryable=True) from None

    async def _json(
        self, method: str, path: str, into: type[_S], body: object = None, **params: str
    ) -> _S:
        status, _, payload = await self._send(method, path, body, params or None)
        if status >= 300:
            info = _error(_decode_error(payload), status)
            error_class = BatchNotFoundError if status == 404 else ProviderError
            raise error_class(
                f"Echo {method} {path}: {info.message}",
                code=info.code,
                status=status,
                retryable=info.retryable,
            )
        try:
            return msgspec.json.decode(payload, type=into)
        except msgspec.DecodeError:
            raise ProviderError(f"Echo {method} {path}: unreadable reply", retryable=True) from None

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Create once; `resume` changes nothing, since Echo has no separate upload."""
        body = CreateBatch(tag, [self._entry(r) for r in requests])
        return _state(await self._json("POST", "/batches", BatchView, body))

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int
    ) -> BatchState | None:
        found = await self._json(
            "GET", "/batches", BatchList, tag=tag, created_after=f"{created_after:.3f}"
        )
        return _state(found.data[0]) if found.data else None

    async def get_batch(self, batch_id: str) -> BatchState:
        return _state(await self._json("GET", f"/batches/{quote(batch_id, safe='')}", BatchView))

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Cancel; Echo's 409 for a batch already cancelling or over returns its state."""
        path = f"/batches/{quote(batch_id, safe='')}/cancel"
        try:
            return _state(await self._json("POST", path, BatchView))
        except ProviderError as exc:
            if exc.status != 409:
                raise
        return await self.get_batch(batch_id)

    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        """Every result line, decoded on its own; repeats and bad lines become `MalformedLine`."""
        if batch.status is BatchStatus.FAILED:
            return
        path = f"/batches/{quote(batch.batch_id, safe='')}/results"
        status, _, payload = await self._send("GET", path)
        if status >= 300:
            info = _error(_decode_error(payload), status)
            raise ProviderError(f"Echo GET {path}: {info.message}", retryable=info.retryable)
        seen: set[str] = set()
        for number, raw in enumerate(payload.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = _RESULT.decode(raw)
            except msgspec.DecodeError as exc:
                yield MalformedLine(line=number, reason=f"unreadable result line: {exc}")
                continue
            if line.id in seen:
                yield MalformedLine(line=number, reason="duplicate id", custom_id=line.id)
                continue
            seen.add(line.id)
            yield _result(line.id, line.reply, line.error, Mode.BATCH)

    async def call(self, request: LlmRequest) -> LlmResult:
        problem = self.check(request)
        if problem is not None:
            error = ErrorInfo(code="invalid_request", message=problem)
            return _result(request.custom_id, None, None, Mode.REALTIME, error)
        entry = self._entry(request)
        body = EchoRequest(entry.model, entry.prompt, entry.max_tokens)
        try:
            status, headers, payload = await self._send("POST", "/echo", body)
        except ProviderError as exc:
            error = ErrorInfo(code=exc.code, message=exc.message, retryable=True)
            return _result(request.custom_id, None, None, Mode.REALTIME, error)
        if status >= 300:
            info = _error(_decode_error(payload), status)
            wait = headers.get("retry-after")
            if wait is not None and info.retryable:
                info = msgspec.structs.replace(info, retry_after_s=float(wait))
            return _result(request.custom_id, None, None, Mode.REALTIME, info)
        try:
            reply = msgspec.json.decode(payload, type=EchoReply)
        except msgspec.DecodeError:
            message = "Echo sent an unreadable reply"
            error = ErrorInfo(code="bad_reply", message=message, retryable=True)
            return _result(request.custom_id, None, None, Mode.REALTIME, error)
        return _result(request.custom_id, reply, None, Mode.REALTIME)


def _decode_error(payload: bytes) -> EchoError | None:
    try:
        return msgspec.json.decode(payload, type=ErrorBody).error
    except msgspec.DecodeError:
        return None


def _result(
    custom_id: str,
    reply: EchoReply | None,
    error: EchoError | None,
    mode: Mode,
    info: ErrorInfo | None = None,
) -> LlmResult:
    if reply is not None:
        usage = Usage(reply.input_tokens, reply.output_tokens)
        return LlmResult(
            custom_id=custom_id,
            ok=True,
            provider="echo",
            mode=mode,
            model=reply.model,
            text=reply.text,
            usage=usage,
        )
    failure = info or _error(error, error.status if error is not None else None)
    return LlmResult.failure(custom_id, failure, provider="echo", mode=mode)
