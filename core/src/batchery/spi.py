"""What a provider module supplies: capabilities and limits, batch and realtime calls, an emulator.

Core talks to every provider through `Provider` alone; OpenAI, Anthropic, Gemini, Voyage and any
third party's package implement it and register their module under the `batchery.providers`
entry point.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Protocol, runtime_checkable

import msgspec

from batchery.model import BatchState, LlmRequest, LlmResult, RequestKind

__all__ = [
    "BATCHERY_API",
    "BatchNotFoundError",
    "CollectedLine",
    "EmulatedProviderModule",
    "Emulator",
    "EmulatorOptions",
    "MalformedLine",
    "ModelPrice",
    "Provider",
    "ProviderError",
    "ProviderInfo",
    "ProviderLimits",
    "ProviderModule",
    "RateLimitObserver",
    "RateLimitState",
    "ReportsRateLimits",
]

BATCHERY_API = 1
"""Version of this protocol; a provider declares the one it was written for."""


class ProviderLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_requests_per_batch: int
    max_bytes_per_batch: int
    completion_window_s: float = 24 * 3600.0


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True):
    """USD per million tokens at realtime prices; batch prices default to the batch discount.

    `context_tokens` is the model's context window (input and output together) where known,
    so a request that cannot fit is refused before it is sent.
    """

    input: float
    output: float = 0.0
    cached_input: float | None = None
    batch_input: float | None = None
    batch_output: float | None = None
    context_tokens: int | None = None


class ProviderInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's self-description, readable without opening a connection."""

    name: str
    title: str
    kinds: frozenset[RequestKind]
    limits: ProviderLimits
    batch: bool = True
    realtime: bool = True
    batch_discount: float = 0.5
    default_models: dict[RequestKind, str] = msgspec.field(default_factory=dict)
    prices: dict[str, ModelPrice] = msgspec.field(default_factory=dict)
    key_env: str | None = None
    base_url_env: str | None = None
    batchery_api: int = BATCHERY_API


class MalformedLine(msgspec.Struct, frozen=True, kw_only=True):
    """A result line that could not be read; kept so it can be reported, never fatal."""

    line: int
    reason: str
    custom_id: str | None = None


CollectedLine = LlmResult | MalformedLine


class ProviderError(Exception):
    """A provider call failed. The message must already be free of secrets.

    `retryable` tells the caller whether the same call may succeed later; `retry_after_s` is
    the provider's own advice when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "provider_error",
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class BatchNotFoundError(ProviderError):
    """The provider does not know the batch; shortly after our own create this is transient."""


@runtime_checkable
class Provider(Protocol):
    """One provider account behind one base URL and key.

    Batch calls never retry a create on their own: an unknown create outcome is raised to the
    caller, which reconciles it with `find_batch` so that nothing is submitted twice.
    """

    @property
    def info(self) -> ProviderInfo: ...

    def batch_size_of(self, request: LlmRequest) -> int:
        """Bytes this request adds to a batch upload, for chunking within the byte limit."""
        ...

    def check(self, request: LlmRequest) -> str | None:
        """A provider-specific rule the request breaks, said for a person; None when fine."""
        ...

    async def submit_batch(
        self, requests: Iterable[LlmRequest], *, tag: str, resume: bool = False
    ) -> BatchState:
        """Upload and create one batch tagged with `tag`.

        `resume` says an earlier attempt with this tag may have uploaded its input already, so
        the provider may reuse it instead of uploading again.
        """
        ...

    async def find_batch(
        self, tag: str, *, created_after: float, request_count: int
    ) -> BatchState | None:
        """The batch created with `tag` no earlier than `created_after` (Unix seconds), if any.

        A provider whose batches cannot carry a tag matches on `request_count` and creation time
        instead, as closely as its API allows.
        """
        ...

    async def get_batch(self, batch_id: str) -> BatchState: ...

    def collect(self, batch: BatchState) -> AsyncIterator[CollectedLine]:
        """Stream every result the batch holds, whatever its terminal state, one line at a time."""
        ...

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Ask the provider to cancel; calling it again on a cancelling batch is harmless."""
        ...

    async def call(self, request: LlmRequest) -> LlmResult:
        """One realtime call. Provider errors come back as a failed result, classified."""
        ...


class RateLimitState(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider's rate-limit headers said about one account and model just now."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None


RateLimitObserver = Callable[[str | None, RateLimitState], None]
"""Called with (model, state) each time a realtime response carries rate-limit headers."""


@runtime_checkable
class ReportsRateLimits(Protocol):
    """Optional: a provider that tells the shared limiter what its rate-limit headers say."""

    def observe_rate_limits(self, observer: RateLimitObserver) -> None: ...


class EmulatorOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How an emulator behaves: `time_scale` compresses provider time (1.0 is real time).

    `latency_s` is how long a realtime call takes from request to answer (real seconds, the
    emulator's own work included). `requests_per_min` and `tokens_per_min` set the realtime
    rate limits it enforces, per emulated minute, with the provider's real rate-limit headers;
    None keeps its generous defaults.
    """

    time_scale: float = 1.0
    faults: str = ""
    latency_s: float = 0.0
    seed: int = 0
    requests_per_min: int | None = None
    tokens_per_min: int | None = None


class Emulator(Protocol):
    """A provider's API served over real HTTP on loopback, for tests and demos."""

    @property
    def base_url(self) -> str: ...

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class ProviderModule(Protocol):
    """What a provider's module class declares besides being a `batchery.modules.Module`.

    The class itself is the implementation: `INFO` is a class attribute, so core reads what a
    provider can do without building the module or its provider.
    """

    @property
    def INFO(self) -> ProviderInfo:
        """The provider's name, capabilities, limits and prices."""


@runtime_checkable
class EmulatedProviderModule(ProviderModule, Protocol):
    """A provider module that also ships an emulator of its API, as a classmethod."""

    def emulator(self, options: EmulatorOptions) -> Emulator:
        """An emulator of the provider's API, not yet started."""
