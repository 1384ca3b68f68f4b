"""`VoyageProvider`: Batchery's provider protocol over Voyage's Files, Batches and realtime APIs.

Batches are tagged through `metadata`, which Voyage's create call accepts and its batch object
returns (provider-wire-formats.md §4.3, §4.4), so a lost create is found again by its tag alone;
the request count is not needed to tell batches apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from functools import partial
from importlib.resources import files
from typing import ClassVar

import aiohttp
import msgspec
import structlog
from batchery.model import BatchState, BatchStatus, ErrorInfo, LlmRequest, LlmResult, Mode
from batchery.pricing import load_prices
from batchery.provider_kit import ProviderBase, spool
from batchery.spi import CollectedLine, ProviderError, ProviderInfo, ProviderLimits
from batchery_openai_batch import BatchApi, BatchPaths, BatchView, collect_lines

from ._http import VoyageHttp
from ._jsonl import encode_line, reader, write_lines
from ._options import VoyageOptions
from ._realtime import call_realtime, content_problem
from ._state import batch_state, parse_time
from ._translate import (
    DEFAULT_MODELS,
    ENDPOINTS,
    PROVIDER,
    TAG_KEY,
    TOP_K_KEY,
    MixedBatchError,
    kind_of_endpoint,
)
from ._wire import CreateBatch

__all__ = ["VoyageProvider"]

_log = structlog.get_logger()
_ENCODER = msgspec.json.Encoder()
_WINDOW = "12h"
_PATHS = BatchPaths(max_pages=50)
"""A search reads 50 list pages at most; 5,000 batches back is far past any intent."""


class VoyageProvider(ProviderBase[VoyageOptions]):
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

    __slots__ = ("_api", "_http")

    def __init__(self, options: VoyageOptions, session: aiohttp.ClientSession) -> None:
        super().__init__(options)
        self._http = VoyageHttp(options, session)
        self._api = BatchApi(
            self._http, title="Voyage", upload_timeout_s=options.upload_timeout_s, paths=_PATHS
        )

    def batch_size_of(self, request: LlmRequest) -> int:
        return len(encode_line(request))

    def check(self, request: LlmRequest) -> str | None:
        return content_problem(request)

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Spool, upload (or reuse an upload of the same name and size), then create once."""
        write = partial(write_lines, requests)
        file, (params, size) = await asyncio.to_thread(spool, write, prefix="batchery-voyage-")
        with file:
            try:
                request_params = params.request_params(self._options)
            except MixedBatchError as exc:
                raise ProviderError(str(exc), code="invalid_request") from None
            file_id = await self._api.upload_input(file, tag, size, resume=resume)
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
        body = await self._api.create(_ENCODER.encode(create))
        state = self._state(self._api.http.decode(body, BatchView, "batch"))
        _log.info("voyage.batch.created", batch_id=state.batch_id, tag=tag, requests=params.count)
        return state

    def _state(self, view: BatchView) -> BatchState:
        return batch_state(view, self._options.api_key)

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int = 0
    ) -> BatchState | None:
        """The batch whose metadata carries `tag`, created no earlier than `created_after`.

        Voyage cannot filter the list by metadata, so pages are read until a newest-first page
        reaches batches older than `created_after`; `request_count` is not needed.
        """
        async for page in self._api.batch_pages():
            times = [parse_time(view.created_at) or 0.0 for view in page.data]
            for view, created in zip(page.data, times, strict=True):
                if created >= created_after and (view.metadata or {}).get(TAG_KEY) == tag:
                    return self._state(view)
            newest_first = times == sorted(times, reverse=True)
            if newest_first and times and times[-1] < created_after:
                return None
        return None

    async def get_batch(self, batch_id: str) -> BatchState:
        return self._state(await self._api.read(batch_id))

    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        """Both result files, each optional (`""` is absent), streamed and parsed line by line."""
        view = await self._api.read(batch.batch_id)
        kind = kind_of_endpoint(view.endpoint)
        if kind is None:
            message = f"Voyage batch {view.id!r} serves an endpoint Batchery does not read"
            raise ProviderError(message, code="bad_response")
        raw_top_k = (view.metadata or {}).get(TOP_K_KEY)
        top_k = int(raw_top_k) if isinstance(raw_top_k, str) and raw_top_k.isdigit() else None
        lines = reader(kind, self._options.api_key, top_k)
        async for item in collect_lines(self._api, view, lines, provider=PROVIDER):
            yield item

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Cancel; a refusal because the batch is past cancelling returns its state instead.

        Voyage cancels only `validating` and `in_progress` batches (§4.1), so asking again
        while `cancelling`, or once `finalizing` or over, is answered with the batch as it is.
        """
        return self._state(await self._api.cancel(batch_id, settled=self._settled))

    def _settled(self, view: BatchView) -> bool:
        status = self._state(view).status
        return status in (BatchStatus.CANCELLING, BatchStatus.FINALIZING) or status.terminal

    async def call(self, request: LlmRequest) -> LlmResult:
        problem = content_problem(request)
        if problem is not None:
            error = ErrorInfo(code="invalid_request", message=problem)
            return LlmResult.failure(
                request.custom_id, error, provider=PROVIDER, mode=Mode.REALTIME
            )
        return await call_realtime(self._http, self._options, request)
