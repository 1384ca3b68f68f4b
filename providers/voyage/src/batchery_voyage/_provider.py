"""`VoyageProvider`: Batchery's provider protocol over Voyage's Files, Batches and realtime APIs.

Batches are tagged through `metadata`, which Voyage's create call accepts and its batch object
returns (provider-wire-formats.md §4.3, §4.4), so a lost create is found again by its tag alone;
the request count is not needed to tell batches apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from collections.abc import AsyncIterator, Iterable
from importlib.resources import files
from typing import IO, ClassVar, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
import structlog
from batchery.model import BatchState, BatchStatus, ErrorInfo, LlmRequest, LlmResult, Mode
from batchery.pricing import load_prices
from batchery.spi import (
    BatchNotFoundError,
    CollectedLine,
    MalformedLine,
    ProviderError,
    ProviderInfo,
    ProviderLimits,
)

from ._http import VoyageHttp
from ._jsonl import encode_line, parse_stream, write_lines
from ._options import VoyageOptions
from ._realtime import call_realtime, content_problem
from ._state import batch_state, parse_time
from ._translate import (
    DEFAULT_MODELS,
    ENDPOINTS,
    PROVIDER,
    TAG_KEY,
    TOP_K_KEY,
    BatchParams,
    MixedBatchError,
    kind_of_endpoint,
)
from ._wire import BatchList, BatchView, CreateBatch, FileList, FileView

__all__ = ["VoyageProvider"]

_log = structlog.get_logger()
_S = TypeVar("_S")
_ENCODER = msgspec.json.Encoder()
_PLAIN_TAG = re.compile(r"[A-Za-z0-9._:-]{1,160}")
_WINDOW = "12h"
_MAX_PAGES = 50
"""How many list pages a reconcile reads at most; 5,000 batches back is far past any intent."""


def _filename(tag: str) -> str:
    """The upload's name: the tag itself when it is plain, else a digest that cannot collide."""
    if _PLAIN_TAG.fullmatch(tag):
        return f"batchery-{tag}.jsonl"
    return f"batchery-{hashlib.sha256(tag.encode()).hexdigest()[:40]}.jsonl"


def _decode(body: bytes, kind: type[_S], what: str) -> _S:
    try:
        return msgspec.json.decode(body, type=kind)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        message = f"Voyage returned an unreadable {what}"
        raise ProviderError(message, code="bad_response", retryable=True) from exc


def _spool(requests: Iterable[LlmRequest]) -> tuple[IO[bytes], BatchParams, int]:
    """Requests written to an anonymous temporary file, so an upload never sits in memory."""
    file = tempfile.TemporaryFile(prefix="batchery-voyage-", suffix=".jsonl")  # noqa: SIM115
    try:
        params, size = write_lines(requests, file)
        file.flush()
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, params, size


def _not_found(batch_id: str, exc: ProviderError) -> BatchNotFoundError:
    return BatchNotFoundError(
        f"Voyage does not know batch {batch_id!r}", code="not_found", status=exc.status
    )


class VoyageProvider:
    """Voyage's Batch API and realtime embeddings, contextual embeddings and rerank.

    The session is borrowed, not owned: whoever created it (see `create_session`) closes it.
    """

    INFO: ClassVar[ProviderInfo] = ProviderInfo(
        name=PROVIDER,
        title="Voyage AI",
        kinds=frozenset(ENDPOINTS),
        limits=ProviderLimits(
            max_requests_per_batch=100_000,
            max_bytes_per_batch=1_000_000_000,
            completion_window_s=12 * 3600.0,
        ),
        batch_discount=0.33,
        prices=load_prices(files("batchery_voyage") / "prices.toml"),
        default_models=dict(DEFAULT_MODELS),
        key_env="VOYAGE_API_KEY",
        base_url_env="VOYAGE_BASE_URL",
    )

    __slots__ = ("_http", "_options")

    def __init__(self, options: VoyageOptions, session: aiohttp.ClientSession) -> None:
        self._options = options
        self._http = VoyageHttp(options, session)

    def __repr__(self) -> str:
        return f"VoyageProvider(options={self._options!r})"

    @property
    def info(self) -> ProviderInfo:
        return self.INFO

    def batch_size_of(self, request: LlmRequest) -> int:
        return len(encode_line(request))

    def check(self, request: LlmRequest) -> str | None:
        return content_problem(request)

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Spool, upload (or reuse an upload of the same name and size), then create once."""
        filename = _filename(tag)
        file, params, size = await asyncio.to_thread(_spool, requests)
        try:
            try:
                request_params = params.request_params(self._options)
            except MixedBatchError as exc:
                raise ProviderError(str(exc), code="invalid_request") from None
            file_id = await self._find_file(filename, size) if resume else None
            if file_id is None:
                file_id = await self._upload(file, filename)
            else:
                _log.info("voyage.file.reused", file_id=file_id, tag=tag)
        finally:
            file.close()
        metadata = {TAG_KEY: tag}
        top_k = params.shared_top_k()
        if top_k is not None:
            metadata[TOP_K_KEY] = str(top_k)
        create = CreateBatch(
            input_file_id=file_id,
            endpoint=params.endpoint,
            completion_window=_WINDOW,
            request_params=request_params,
            metadata=metadata,
        )
        body = await self._http.post("/batches", json=_ENCODER.encode(create))
        state = batch_state(_decode(body, BatchView, "batch"), self._options.api_key)
        _log.info("voyage.batch.created", batch_id=state.batch_id, tag=tag, requests=params.count)
        return state

    async def _upload(self, file: IO[bytes], filename: str) -> str:
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("purpose", "batch")
        form.add_field("file", file, filename=filename, content_type="application/jsonl")
        body = await self._http.post("/files", data=form, timeout_s=self._options.upload_timeout_s)
        return _decode(body, FileView, "file").id

    async def _find_file(self, filename: str, size: int) -> str | None:
        """An earlier upload of exactly this input, found by its name and size."""
        after: str | None = None
        for _ in range(_MAX_PAGES):
            params = {"purpose": "batch", "limit": "100"}
            if after is not None:
                params["after"] = after
            page = _decode(await self._http.get("/files", params), FileList, "file list")
            for file in page.data:
                same = file.filename == filename and file.bytes in (None, size)
                if same and file.purpose in (None, "batch"):
                    return file.id
            cursor = page.last_id or (page.data[-1].id if page.data else None)
            if not page.has_more or cursor is None or cursor == after:
                return None
            after = cursor
        return None

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int = 0
    ) -> BatchState | None:
        """The batch whose metadata carries `tag`, created no earlier than `created_after`.

        Voyage cannot filter the list by metadata, so pages are read until a newest-first page
        reaches batches older than `created_after`; `request_count` is not needed.
        """
        after: str | None = None
        for _ in range(_MAX_PAGES):
            params = {"limit": "100"}
            if after is not None:
                params["after"] = after
            page = _decode(await self._http.get("/batches", params), BatchList, "batch list")
            times = [parse_time(view.created_at) or 0.0 for view in page.data]
            for view, created in zip(page.data, times, strict=True):
                if created >= created_after and (view.metadata or {}).get(TAG_KEY) == tag:
                    return batch_state(view, self._options.api_key)
            newest_first = times == sorted(times, reverse=True)
            cursor = page.last_id or (page.data[-1].id if page.data else None)
            if not page.has_more or cursor is None or cursor == after:
                return None
            if newest_first and times and times[-1] < created_after:
                return None
            after = cursor
        return None

    async def _read_batch(self, batch_id: str) -> BatchView:
        try:
            body = await self._http.get(f"/batches/{quote(batch_id, safe='')}")
        except ProviderError as exc:
            if exc.status == 404:
                raise _not_found(batch_id, exc) from exc
            raise
        return _decode(body, BatchView, "batch")

    async def get_batch(self, batch_id: str) -> BatchState:
        return batch_state(await self._read_batch(batch_id), self._options.api_key)

    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        """Both result files, each optional (`""` is absent), streamed and parsed line by line."""
        view = await self._read_batch(batch.batch_id)
        kind = kind_of_endpoint(view.endpoint)
        if kind is None:
            message = f"Voyage batch {view.id!r} serves an endpoint Batchery does not read"
            raise ProviderError(message, code="bad_response")
        raw_top_k = (view.metadata or {}).get(TOP_K_KEY)
        top_k = int(raw_top_k) if isinstance(raw_top_k, str) and raw_top_k.isdigit() else None
        seen: set[str] = set()
        malformed = 0
        for source, file_id in (("output", view.output_file_id), ("error", view.error_file_id)):
            if not file_id:
                continue
            path = f"/files/{quote(file_id, safe='')}/content"
            async with self._http.download(path) as chunks:
                async for item in parse_stream(
                    chunks,
                    kind,
                    source=source,
                    seen=seen,
                    secret=self._options.api_key,
                    top_k=top_k,
                ):
                    malformed += isinstance(item, MalformedLine)
                    yield item
        _log.info(
            "voyage.batch.collected", batch_id=view.id, results=len(seen), malformed=malformed
        )

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Cancel; a refusal because the batch is past cancelling returns its state instead.

        Voyage cancels only `validating` and `in_progress` batches (§4.1), so asking again
        while `cancelling`, or once `finalizing` or over, is answered with the batch as it is.
        """
        path = f"/batches/{quote(batch_id, safe='')}/cancel"
        try:
            body = await self._http.post(path)
        except ProviderError as exc:
            if exc.status == 404:
                raise _not_found(batch_id, exc) from exc
            if exc.status not in (400, 409):
                raise
            state = await self.get_batch(batch_id)
            if state.status in (BatchStatus.CANCELLING, BatchStatus.FINALIZING):
                return state
            if state.status.terminal:
                return state
            raise
        return batch_state(_decode(body, BatchView, "batch"), self._options.api_key)

    async def call(self, request: LlmRequest) -> LlmResult:
        problem = content_problem(request)
        if problem is not None:
            error = ErrorInfo(code="invalid_request", message=problem)
            return LlmResult.failure(
                request.custom_id, error, provider=PROVIDER, mode=Mode.REALTIME
            )
        return await call_realtime(self._http, self._options, request)
