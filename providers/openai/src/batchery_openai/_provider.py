"""`OpenAIProvider`: Batchery's provider protocol over OpenAI's Files, Batches and realtime APIs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from functools import partial
from importlib.resources import files
from typing import ClassVar

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
    CollectedLine,
    MalformedLine,
    ProviderInfo,
    ProviderLimits,
    RateLimitObserver,
)
from batchery_openai_batch import (
    OPENAI_STATUSES,
    BatchApi,
    BatchPaths,
    BatchView,
    collect_lines,
    parse_time,
)

from ._http import OpenAIHttp
from ._jsonl import encode_line, reader, write_lines
from ._options import OpenAIOptions
from ._ratelimits import rate_limit_state
from ._translate import (
    DEFAULT_MODELS,
    ENDPOINTS,
    PROVIDER,
    TAG_KEY,
    batch_state,
    chat_result,
    embedding_result,
    kind_of_endpoint,
    request_body,
)
from ._wire import ChatCompletionView, EmbeddingView

__all__ = ["OpenAIProvider"]

_log = structlog.get_logger()
_ENCODER = msgspec.json.Encoder()
_MAX_CUSTOM_ID = 64
_REALTIME_PATHS = {kind: path.removeprefix("/v1") for kind, path in ENDPOINTS.items()}


class OpenAIProvider(ProviderBase[OpenAIOptions]):
    """OpenAI's Batch API and realtime chat and embeddings, through one aiohttp session.

    The session is borrowed, not owned: whoever created it (see `create_session`) closes it.
    """

    INFO: ClassVar[ProviderInfo] = ProviderInfo(
        name=PROVIDER,
        title="OpenAI",
        kinds=frozenset(ENDPOINTS),
        limits=ProviderLimits(max_requests_per_batch=50_000, max_bytes_per_batch=200_000_000),
        batch_discount=0.5,
        prices=load_prices(files("batchery_openai") / "prices.toml"),
        default_models=dict(DEFAULT_MODELS),
        key_env="OPENAI_API_KEY",
        base_url_env="OPENAI_BASE_URL",
    )

    batch_paths: ClassVar[BatchPaths] = BatchPaths()
    """Where the server keeps its Files and Batches endpoints; OpenAI's own by default."""
    statuses: ClassVar[Mapping[str, BatchStatus]] = OPENAI_STATUSES
    """How the server spells batch statuses; OpenAI's are Batchery's own."""

    __slots__ = ("_api", "_http", "_info", "_rate_observers")

    def __init__(
        self,
        options: OpenAIOptions,
        session: aiohttp.ClientSession,
        *,
        info: ProviderInfo | None = None,
    ) -> None:
        """`info` replaces the class's own when a server's capabilities are configured."""
        super().__init__(options)
        self._info = info or self.INFO
        self._http = OpenAIHttp(options, session)
        self._api = BatchApi(
            self._http,
            title=self._info.title,
            upload_timeout_s=options.upload_timeout_s,
            paths=self.batch_paths,
        )
        self._rate_observers: list[RateLimitObserver] = []

    def observe_rate_limits(self, observer: RateLimitObserver) -> None:
        """Tell `observer` what every realtime response's `x-ratelimit-*` headers say."""
        self._rate_observers.append(observer)

    @property
    def info(self) -> ProviderInfo:
        return self._info

    def _own(self, result: LlmResult) -> LlmResult:
        """The result under this provider's name, for servers that only speak OpenAI's wire."""
        if result.provider == self._info.name:
            return result
        return msgspec.structs.replace(result, provider=self._info.name)

    def batch_size_of(self, request: LlmRequest) -> int:
        return len(encode_line(request))

    def _content_problem(self, request: LlmRequest) -> str | None:
        if request.kind not in ENDPOINTS:
            return f"OpenAI does not serve {request.kind.value} requests"
        if request.kind is RequestKind.CHAT and not request.messages:
            return "a chat request needs at least one message"
        if request.kind is RequestKind.EMBEDDING and not request.input:
            return "an embedding request needs a non-empty input"
        if request.max_tokens is not None and request.max_tokens < 1:
            return "max_tokens must be at least 1"
        if request.temperature is not None and not 0.0 <= request.temperature <= 2.0:
            return "temperature must be between 0 and 2 for OpenAI"
        return None

    def check(self, request: LlmRequest) -> str | None:
        if not 1 <= len(request.custom_id) <= _MAX_CUSTOM_ID:
            return (
                f"custom_id must be 1 to {_MAX_CUSTOM_ID} characters for OpenAI batches "
                f"(this one has {len(request.custom_id)})"
            )
        return self._content_problem(request)

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Spool, upload (or reuse an upload of the same name and size), then create once."""
        file, (kind, count, size) = await asyncio.to_thread(spool, partial(write_lines, requests))
        with file:
            file_id = await self._api.upload_input(file, tag, size, resume=resume)
        body = await self._api.create(_ENCODER.encode(self._create_body(file_id, kind, tag)))
        state = self._state(self._created(body))
        if state.tag is None:
            state = msgspec.structs.replace(state, tag=tag)
        _log.info("openai.batch.created", batch_id=state.batch_id, tag=tag, requests=count)
        return state

    def _create_body(self, file_id: str, kind: RequestKind, tag: str) -> dict[str, object]:
        """What `POST /batches` sends; the tag travels in `metadata`."""
        return {
            "input_file_id": file_id,
            "endpoint": ENDPOINTS[kind],
            "completion_window": self._options.completion_window,
            "metadata": {TAG_KEY: tag},
        }

    def _created(self, body: bytes) -> BatchView:
        """The batch a create answered with."""
        return self._api.http.decode(body, BatchView, "batch")

    def _state(self, view: BatchView) -> BatchState:
        return batch_state(view, self._options.api_key, self.statuses)

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int = 0
    ) -> BatchState | None:
        """Page newest first; OpenAI cannot filter by metadata, so stop at `created_after`.

        The tag identifies the batch on its own; `request_count` is not needed here.
        """
        async for page in self._api.batch_pages():
            for view in page.data:
                if (parse_time(view.created_at) or 0.0) < created_after:
                    return None
                if (view.metadata or {}).get(TAG_KEY) == tag:
                    return self._state(view)
        return None

    async def get_batch(self, batch_id: str) -> BatchState:
        return self._state(await self._api.read(batch_id))

    async def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        """Both result files, each optional (`""` is absent), streamed and parsed line by line."""
        view = await self._api.read(batch.batch_id)
        lines = reader(kind_of_endpoint(view.endpoint), self._options.api_key)
        async for item in collect_lines(self._api, view, lines, provider=PROVIDER):
            yield item if isinstance(item, MalformedLine) else self._own(item)

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Cancel; a refusal because the batch is already cancelling or over returns its state."""
        view = await self._api.cancel(batch_id, settled=self._settled)
        return self._state(view)

    def _settled(self, view: BatchView) -> bool:
        status = self._state(view).status
        return status is BatchStatus.CANCELLING or status.terminal

    async def call(self, request: LlmRequest) -> LlmResult:
        return self._own(await self._call(request))

    async def _call(self, request: LlmRequest) -> LlmResult:
        mode = Mode.REALTIME
        problem = self._content_problem(request)
        if problem is not None:
            error = ErrorInfo(code="invalid_request", message=problem)
            return LlmResult.failure(request.custom_id, error, provider=PROVIDER, mode=mode)
        body = _ENCODER.encode(request_body(request))
        return await call_once(
            self._http,
            _REALTIME_PATHS[request.kind],
            body,
            request,
            provider=PROVIDER,
            read=partial(_answer, request),
            seen=partial(self._saw, request.model),
        )

    def _saw(self, model: str | None, reply: Reply) -> None:
        state = rate_limit_state(reply.headers)
        if state is not None:
            for observer in self._rate_observers:
                observer(model, state)


def _answer(request: LlmRequest, body: bytes) -> LlmResult | None:
    if request.kind is RequestKind.EMBEDDING:
        view = msgspec.json.decode(body, type=EmbeddingView)
        return embedding_result(request.custom_id, view, Mode.REALTIME)
    chat = msgspec.json.decode(body, type=ChatCompletionView)
    return chat_result(request.custom_id, chat, Mode.REALTIME)
