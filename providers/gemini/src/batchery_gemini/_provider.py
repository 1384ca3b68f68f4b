"""`GeminiProvider`: Batchery's provider protocol over the Gemini API's batch mode and realtime.

A batch is spooled to a temporary JSONL file first. When its inline create body would stay
under the documented 20 MB, the requests go inline, each with `metadata: {"key": custom_id}`;
otherwise the file goes up through the File API and the batch names it. Either way the batch's
`displayName` carries the tag, so a create whose answer was lost is found again by listing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from functools import partial
from importlib.resources import files
from typing import IO, ClassVar
from urllib.parse import quote

import aiohttp
import msgspec
import structlog
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
    ProviderError,
    ProviderInfo,
    ProviderLimits,
)

from ._http import GeminiHttp
from ._jsonl import Spooled, encode_line, parse_stream
from ._options import GeminiOptions
from ._results import KEY_FIELD, Joiner
from ._translate import (
    DEFAULT_MODELS,
    KINDS,
    PROVIDER,
    batch_state,
    display_name,
    model_path,
    parse_time,
    request_body,
    request_problem,
    response_result,
)
from ._upload import Uploader
from ._wire import (
    BatchBody,
    BatchOutputView,
    CreateBatch,
    FileLine,
    InlineRequest,
    InlineRequests,
    InputConfig,
    OperationList,
    OperationView,
    ResponseView,
)

__all__ = ["GeminiProvider"]

_log = structlog.get_logger()
_ENCODER = msgspec.json.Encoder()
_FILE_LINE = msgspec.json.Decoder(FileLine)
_CREATE_METHODS = {
    RequestKind.CHAT: "batchGenerateContent",
    RequestKind.EMBEDDING: "asyncBatchEmbedContent",
}
_REALTIME_METHODS = {RequestKind.CHAT: "generateContent", RequestKind.EMBEDDING: "embedContent"}


def _inline_body(file: IO[bytes], name: str, limit: int) -> bytes | None:
    """The create body with every spooled line inline, or None when it is `limit` or larger."""
    file.seek(0)
    entries = [
        InlineRequest(request=line.request, metadata={KEY_FIELD: line.key})
        for line in map(_FILE_LINE.decode, file)
    ]
    inline = InputConfig(requests=InlineRequests(entries))
    body = _ENCODER.encode(CreateBatch(BatchBody(display_name=name, input_config=inline)))
    return body if len(body) < limit else None


def _batch_path(batch_id: str) -> str:
    """`batches/{id}` with the id quoted; a bare id is accepted too."""
    ident = batch_id.removeprefix("batches/")
    return f"batches/{quote(ident, safe='-._~')}"


def _file_path(file_name: str) -> str:
    return f"files/{quote(file_name.removeprefix('files/'), safe='-._~')}"


def _output(operation: OperationView) -> BatchOutputView | None:
    """Where the results are: the batch's `output`, else the finished Operation's `response`."""
    for output in (operation.metadata.output if operation.metadata else None, operation.response):
        if output is not None and (
            output.responses_file
            or output.inlined_responses is not None
            or output.inlined_embed_content_responses is not None
        ):
            return output
    return None


class GeminiProvider(ProviderBase[GeminiOptions]):
    """The Gemini API's batch mode and realtime generation and embeddings, through one session.

    The session is borrowed, not owned: whoever created it (see `create_session`) closes it.
    """

    INFO: ClassVar[ProviderInfo] = ProviderInfo(
        name=PROVIDER,
        title="Gemini API",
        kinds=KINDS,
        limits=ProviderLimits(max_requests_per_batch=100_000, max_bytes_per_batch=2_000_000_000),
        batch_discount=0.5,
        prices=load_prices(files("batchery_gemini") / "prices.toml"),
        default_models=dict(DEFAULT_MODELS),
        key_env="GEMINI_API_KEY",
        base_url_env="GEMINI_BASE_URL",
    )

    __slots__ = ("_http", "_uploader")

    def __init__(self, options: GeminiOptions, session: aiohttp.ClientSession) -> None:
        super().__init__(options)
        self._http = GeminiHttp(options, session)
        self._uploader = Uploader(self._http)

    def batch_size_of(self, request: LlmRequest) -> int:
        return len(encode_line(request))

    def check(self, request: LlmRequest) -> str | None:
        return request_problem(request)

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Spool, then create once: inline when small enough, else from an uploaded file."""
        name = display_name(tag)
        file, spooled = await asyncio.to_thread(
            spool, partial(Spooled.write, requests), prefix="batchery-gemini-"
        )
        try:
            limit = self._options.inline_max_bytes
            body = None
            if spooled.size < limit:
                body = await asyncio.to_thread(_inline_body, file, name, limit)
            inline = body is not None
            if body is None:
                file_name = await self._input_file(file, spooled, f"{name}.jsonl", resume=resume)
                config = InputConfig(file_name=file_name)
                body = _ENCODER.encode(
                    CreateBatch(BatchBody(display_name=name, input_config=config))
                )
        finally:
            file.close()
        method = _CREATE_METHODS[spooled.kind]
        path = self._options.api_path(f"{model_path(spooled.model)}:{method}")
        operation = self._http.decode(
            await self._http.post(path, json=body), OperationView, "batch"
        )
        state = batch_state(operation, self._options.api_key)
        _log.info(
            "gemini.batch.created",
            batch_id=state.batch_id,
            tag=tag,
            requests=spooled.count,
            inline=inline,
        )
        return state

    async def _input_file(
        self, file: IO[bytes], spooled: Spooled, name: str, *, resume: bool
    ) -> str:
        found = await self._uploader.find(name, spooled.size) if resume else None
        if found is not None:
            _log.info("gemini.file.reused", file=found)
            return found
        file.seek(0)
        return await self._uploader.upload(file, spooled.size, name)

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int = 0
    ) -> BatchState | None:
        """The newest listed batch whose display name carries `tag`, created after the cut-off.

        The Gemini API does not filter the list (the SDK refuses `filter` outside Vertex AI)
        nor document its order, so up to `max_list_pages` pages are read in full. The tag
        identifies the batch on its own; `request_count` is not needed.
        """
        wanted = display_name(tag)
        path = self._options.api_path("batches")
        token: str | None = None
        best: tuple[float, OperationView] | None = None
        for _ in range(self._options.max_list_pages):
            params = {"pageSize": "100"}
            if token:
                params["pageToken"] = token
            page = self._http.decode(
                await self._http.get(path, params), OperationList, "batch list"
            )
            for operation in page.operations:
                batch = operation.metadata
                if batch is None or batch.display_name != wanted:
                    continue
                created = parse_time(batch.create_time)
                if created is not None and created < created_after:
                    continue
                if best is None or (created or 0.0) > best[0]:
                    best = (created or 0.0, operation)
            if not page.next_page_token or page.next_page_token == token:
                break
            token = page.next_page_token
        return batch_state(best[1], self._options.api_key) if best is not None else None

    def _not_found(self, batch_id: str, exc: ProviderError) -> BatchNotFoundError:
        return BatchNotFoundError(
            f"Gemini does not know batch {batch_id!r}", code="not_found", status=exc.status
        )

    async def _read(self, batch_id: str) -> OperationView:
        try:
            body = await self._http.get(self._options.api_path(_batch_path(batch_id)))
        except ProviderError as exc:
            if exc.status == 404:
                raise self._not_found(batch_id, exc) from exc
            raise
        return self._http.decode(body, OperationView, "batch")

    async def get_batch(self, batch_id: str) -> BatchState:
        return batch_state(await self._read(batch_id), self._options.api_key)

    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        """The results file or the inline responses, whichever the batch holds, joined by key.

        An expired batch holds neither, and yields nothing.
        """
        operation = await self._read(batch.batch_id)
        output = _output(operation)
        model = operation.metadata.model if operation.metadata else None
        model = model.removeprefix("models/") if model else None
        joiner = Joiner()
        secret = self._options.api_key
        if output is not None and output.responses_file:
            path = f"/download/{self._options.api_version}/{_file_path(output.responses_file)}"
            async with self._http.download(f"{path}:download", {"alt": "media"}) as chunks:
                async for item in parse_stream(chunks, joiner, model=model, secret=secret):
                    yield item
        elif output is not None:
            inline = output.inlined_responses or output.inlined_embed_content_responses
            if inline is not None:
                for item in joiner.inline(inline.inlined_responses, model=model, secret=secret):
                    yield item
        _log.info(
            "gemini.batch.collected",
            batch_id=operation.name,
            results=joiner.delivered,
            malformed=joiner.malformed,
        )

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Cancel; a refusal because the batch is already over returns its state."""
        path = self._options.api_path(f"{_batch_path(batch_id)}:cancel")
        try:
            await self._http.post(path, json=b"{}")
        except ProviderError as exc:
            if exc.status == 404:
                raise self._not_found(batch_id, exc) from exc
            if exc.status not in (400, 409):
                raise
            state = await self.get_batch(batch_id)
            if state.status is BatchStatus.CANCELLING or state.status.terminal:
                return state
            raise
        return await self.get_batch(batch_id)

    async def delete_batch(self, batch_id: str) -> None:
        """Delete the batch. The docs disagree on whether this stops work: cancel first."""
        try:
            await self._http.delete(self._options.api_path(_batch_path(batch_id)))
        except ProviderError as exc:
            if exc.status == 404:
                raise self._not_found(batch_id, exc) from exc
            raise

    async def call(self, request: LlmRequest) -> LlmResult:
        mode = Mode.REALTIME
        problem = request_problem(request)
        if problem is not None:
            error = ErrorInfo(code="invalid_request", message=problem)
            return LlmResult.failure(request.custom_id, error, provider=PROVIDER, mode=mode)
        model = request.model or DEFAULT_MODELS[request.kind]
        path = self._options.api_path(f"{model_path(model)}:{_REALTIME_METHODS[request.kind]}")
        label = model.removeprefix("models/")

        def read(body: bytes) -> LlmResult | None:
            view = msgspec.json.decode(body, type=ResponseView)
            return response_result(request.custom_id, view, mode, label)

        body = _ENCODER.encode(request_body(request))
        return await call_once(self._http, path, body, request, provider=PROVIDER, read=read)
