"""`AnthropicProvider`: Batchery's provider protocol over Message Batches and realtime Messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from functools import partial
from importlib.resources import files
from typing import IO, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import aiohttp
import msgspec
import structlog
from batchery.http import Reply
from batchery.model import (
    BatchState,
    BatchStatus,
    ErrorInfo,
    LlmRequest,
    LlmResult,
    Mode,
    RequestKind,
)
from batchery.pricing import load_prices
from batchery.provider_kit import ProviderBase, call_once, spool
from batchery.spi import (
    BatchNotFoundError,
    CollectedLine,
    MalformedLine,
    ProviderError,
    ProviderInfo,
    ProviderLimits,
)

from ._http import AnthropicHttp
from ._ids import id_problem
from ._jsonl import parse_stream
from ._options import AnthropicOptions
from ._reconcile import Claims, pick
from ._translate import (
    DEFAULT_MODEL,
    PROVIDER,
    batch_item,
    batch_state,
    content_problem,
    message_result,
    params,
)
from ._wire import BatchList, BatchView, Envelope, MessageView

__all__ = ["AnthropicProvider"]

_log = structlog.get_logger()
_S = TypeVar("_S")
_ENCODER = msgspec.json.Encoder()
_BATCHES = "/v1/messages/batches"
_BINARY = {"Accept": "application/binary"}
_LIST_LIMIT = "1000"


def _try_decode(body: bytes, kind: type[_S]) -> _S | None:
    try:
        return msgspec.json.decode(body, type=kind)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _write_body(
    requests: Iterable[LlmRequest], max_tokens: int, file: IO[bytes]
) -> tuple[int, int]:
    """The create body, `{"requests": [...]}`, written to `file`; the count and the bytes."""
    buffer = bytearray()
    file.write(b'{"requests":[')
    count = 0
    for request in requests:
        problem = content_problem(request) or id_problem(request.custom_id)
        if problem is not None:
            raise ValueError(f"request {request.custom_id!r}: {problem}")
        _ENCODER.encode_into(batch_item(request, default_max_tokens=max_tokens), buffer)
        if count:
            file.write(b",")
        file.write(buffer)
        count += 1
    if count == 0:
        raise ValueError("a batch needs at least one request")
    file.write(b"]}")
    return count, file.tell()


def _refused(reply: Reply) -> bool:
    """A reply that is an error: by its status, or by an `error` envelope on a 200."""
    envelope = _try_decode(reply.body, Envelope)
    return reply.status >= 300 or (envelope is not None and envelope.type == "error")


def _not_found(batch_id: str) -> BatchNotFoundError:
    """A retryable not-found: Anthropic may answer 404 for a while just after a create.

    (anthropic-sdk-python#1432.) A collect that meets one is tried again later, not given up.
    """
    message = f"Anthropic does not know batch {batch_id!r}"
    return BatchNotFoundError(message, code="not_found", status=404, retryable=True)


def _batch_path(batch_id: str, suffix: str = "") -> str:
    return f"{_BATCHES}/{quote(batch_id, safe='')}{suffix}"


class AnthropicProvider(ProviderBase[AnthropicOptions]):
    """Anthropic's Message Batches and realtime Messages, through one aiohttp session.

    The session is borrowed, not owned: whoever created it (see `create_session`) closes it.
    Batches cannot carry a tag, so `find_batch` matches on size and age (see `_reconcile`).
    """

    INFO: ClassVar[ProviderInfo] = ProviderInfo(
        name=PROVIDER,
        title="Anthropic",
        kinds=frozenset({RequestKind.CHAT}),
        limits=ProviderLimits(max_requests_per_batch=100_000, max_bytes_per_batch=256_000_000),
        batch_discount=0.5,
        prices=load_prices(files("batchery_anthropic") / "prices.toml"),
        default_models={RequestKind.CHAT: DEFAULT_MODEL},
        key_env="ANTHROPIC_API_KEY",
        base_url_env="ANTHROPIC_BASE_URL",
    )
    """256 MB is taken as 256,000,000 bytes: below 256 MiB by far more than the create body's
    few bytes of framing, whichever way Anthropic counts."""

    __slots__ = ("_claims", "_http")

    def __init__(self, options: AnthropicOptions, session: aiohttp.ClientSession) -> None:
        super().__init__(options)
        self._http = AnthropicHttp(options, session)
        self._claims = Claims()

    def batch_size_of(self, request: LlmRequest) -> int:
        """The request's element of the create body plus its separating comma."""
        item = batch_item(request, default_max_tokens=self._options.default_max_tokens)
        return len(_ENCODER.encode(item)) + 1

    def check(self, request: LlmRequest) -> str | None:
        return id_problem(request.custom_id) or content_problem(request)

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Create the batch in one POST; `resume` changes nothing, as there is no upload."""
        write = partial(_write_body, requests, self._options.default_max_tokens)
        file, (count, size) = await asyncio.to_thread(spool, write, prefix="batchery-anthropic-")
        try:
            body = await self._http.post(
                _BATCHES, json=file, timeout_s=self._options.create_timeout_s
            )
        finally:
            file.close()
        view = self._http.decode(body, BatchView, "message batch")
        self._claims.claim(view.id, tag)
        _log.info("anthropic.batch.created", batch_id=view.id, tag=tag, requests=count, bytes=size)
        return batch_state(view, tag=tag)

    async def _recent(self, created_after: float) -> AsyncIterator[BatchView]:
        """Batches newest first, down to the first one created before `created_after`."""
        after: str | None = None
        while True:
            query = {"limit": _LIST_LIMIT}
            if after is not None:
                query["after_id"] = after
            body = await self._http.idempotent("GET", _BATCHES, query)
            page = self._http.decode(body, BatchList, "batch list")
            for view in page.data:
                if view.created_at.timestamp() < created_after:
                    return
                yield view
            cursor = page.last_id or (page.data[-1].id if page.data else None)
            if not page.has_more or cursor is None or cursor == after:
                return
            after = cursor

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int
    ) -> BatchState | None:
        """The batch of `request_count` requests made since `created_after` (see `_reconcile`)."""
        candidates = [
            view
            async for view in self._recent(created_after)
            if view.request_counts.total == request_count
        ]
        choice = pick(candidates, tag=tag, claims=self._claims)
        passed_over = [view.id for view in choice.passed_over]
        if choice.chosen is None:
            _log.info("anthropic.reconcile.no_match", tag=tag, taken_by_others=passed_over)
            return None
        if passed_over:
            _log.warning(
                "anthropic.reconcile.ambiguous",
                tag=tag,
                adopted=choice.chosen.id,
                passed_over=passed_over,
            )
        self._claims.claim(choice.chosen.id, tag)
        _log.info("anthropic.batch.adopted", batch_id=choice.chosen.id, tag=tag)
        return batch_state(choice.chosen, tag=tag)

    async def _read_batch(self, batch_id: str) -> BatchView:
        try:
            body = await self._http.idempotent("GET", _batch_path(batch_id))
        except ProviderError as exc:
            if exc.status == 404:
                raise _not_found(batch_id) from exc
            raise
        return self._http.decode(body, BatchView, "message batch")

    async def get_batch(self, batch_id: str) -> BatchState:
        view = await self._read_batch(batch_id)
        return batch_state(view, tag=self._claims.tag_of(view.id))

    def _results_url(self, view: BatchView) -> tuple[str, str]:
        """Where to read results, and the path errors name it by.

        The key goes only to the configured host: a `results_url` elsewhere is replaced by the
        same path under the base URL.
        """
        path = _batch_path(view.id, "/results")
        url = view.results_url
        if url and self._http.same_origin(url):
            return url, path
        if url:
            host = urlsplit(url).hostname or "?"
            _log.warning("anthropic.results_url.foreign", batch_id=view.id, host=host[:100])
        return self._options.url(path), path

    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        """Stream the results of an ended batch; a 404 is retryable, as Anthropic's can be brief."""
        view = await self._read_batch(batch.batch_id)
        if view.processing_status != "ended":
            raise ProviderError(
                f"Anthropic batch {view.id!r} has not ended", code="not_ended", retryable=True
            )
        if not view.results_url and view.archived_at is not None:
            raise ProviderError(
                f"the results of Anthropic batch {view.id!r} were archived",
                code="results_archived",
            )
        url, path = self._results_url(view)
        seen: set[str] = set()
        malformed = 0
        try:
            async with self._http.download(path, url=url, headers=_BINARY) as chunks:
                async for item in parse_stream(chunks, seen=seen, secret=self._options.api_key):
                    malformed += isinstance(item, MalformedLine)
                    yield item
        except ProviderError as exc:
            if exc.status != 404:
                raise
            raise ProviderError(exc.message, code="not_found", status=404, retryable=True) from exc
        _log.info(
            "anthropic.batch.collected", batch_id=view.id, results=len(seen), malformed=malformed
        )

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Cancel; a refusal because the batch is already canceling or ended returns its state."""
        try:
            body = await self._http.idempotent("POST", _batch_path(batch_id, "/cancel"))
        except ProviderError as exc:
            if exc.status == 404:
                raise _not_found(batch_id) from exc
            if exc.status not in (400, 409):
                raise
            state = await self.get_batch(batch_id)
            if state.status is BatchStatus.CANCELLING or state.status.terminal:
                return state
            raise
        view = self._http.decode(body, BatchView, "message batch")
        return batch_state(view, tag=self._claims.tag_of(view.id))

    async def call(self, request: LlmRequest) -> LlmResult:
        """One Messages call, sent once; every failure comes back as a classified result."""
        mode = Mode.REALTIME
        problem = content_problem(request)
        if problem is not None:
            error = ErrorInfo(code="invalid_request", message=problem)
            return LlmResult.failure(request.custom_id, error, provider=PROVIDER, mode=mode)
        body = _ENCODER.encode(params(request, default_max_tokens=self._options.default_max_tokens))

        def read(answer: bytes) -> LlmResult | None:
            view = _try_decode(answer, MessageView)
            return message_result(request.custom_id, view, mode) if view is not None else None

        return await call_once(
            self._http,
            "/v1/messages",
            body,
            request,
            provider=PROVIDER,
            read=read,
            refused=_refused,
            unreadable="message",
        )
