"""The provider-neutral model: what callers hand Batchery and what they get back.

Every message that crosses a boundary (CLI files, the job store, providers, events) is one of
these msgspec Structs, so one definition fixes the wire shape everywhere.
"""

from __future__ import annotations

import enum
from typing import Any, TypedDict, Unpack

import msgspec

__all__ = [
    "RATE_LIMITED",
    "AnswerPayload",
    "BatchState",
    "BatchStatus",
    "ChunkState",
    "Endpoint",
    "ErrorInfo",
    "Job",
    "JobStatus",
    "LlmRequest",
    "LlmResult",
    "Message",
    "Mode",
    "RejectedRequest",
    "RequestKind",
    "Usage",
]


class RequestKind(enum.StrEnum):
    """What a request asks for.

    `contextual_embedding` embeds the chunks of one document together, so each chunk's vector
    carries the document's context (one vector per chunk comes back, in order).
    """

    CHAT = "chat"
    EMBEDDING = "embedding"
    CONTEXTUAL_EMBEDDING = "contextual_embedding"
    RERANK = "rerank"


class Mode(enum.StrEnum):
    """How a job runs. `auto` is resolved before any call is made.

    `hybrid` runs a first slice realtime for quick feedback while the rest goes to batch.
    """

    AUTO = "auto"
    BATCH = "batch"
    REALTIME = "realtime"
    HYBRID = "hybrid"


# Requests, results and their parts hold only text, numbers and plain JSON, never a reference
# back to themselves, so they are kept out of the cyclic collector (`gc=False`): a workload of
# a million of them would otherwise be walked again by every full collection.


class Message(msgspec.Struct, frozen=True, gc=False):
    role: str
    content: str


class LlmRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One unit of work. `custom_id` is the caller's key and comes back on its result.

    Chat uses `messages`; embedding uses `input` (and `input_type`, "query" or "document",
    where the provider distinguishes them); contextual embedding uses `chunks`; rerank uses
    `query`, `documents` and `top_k`, and its `scores` come back in document order.
    """

    custom_id: str
    kind: RequestKind = RequestKind.CHAT
    model: str | None = None
    messages: tuple[Message, ...] = ()
    input: str | None = None
    chunks: tuple[str, ...] | None = None
    input_type: str | None = None
    query: str | None = None
    documents: tuple[str, ...] | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    response_schema: dict[str, Any] | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class RejectedRequest(msgspec.Struct, frozen=True):
    """An input item with a usable custom_id that breaks a rule; it ends as an explicit error."""

    custom_id: str
    reason: str


class Usage(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
        )


RATE_LIMITED = "rate_limited"
"""The neutral `ErrorInfo.code` of a refusal for going too fast (HTTP 429, Anthropic's
`rate_limit_error`, Gemini's `RESOURCE_EXHAUSTED`): realtime calls slow down and retry it."""


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Why a request has no answer. `message` is already free of secrets."""

    code: str
    message: str
    retryable: bool = False
    status: int | None = None
    retry_after_s: float | None = None


class AnswerPayload(TypedDict, total=False):
    """What an answer carries, by its request's kind: `text`, `vector`, `vectors` or `scores`."""

    text: str
    vector: tuple[float, ...]
    vectors: tuple[tuple[float, ...], ...]
    scores: tuple[float, ...]


class LlmResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """The one outcome of one request: an answer (`ok`) or an explicit error.

    `cost_usd` is what it cost in the mode it ran in and `realtime_cost_usd` what it would have
    cost as a realtime call, so savings show per item; both stay None for an unpriced model.
    `cached` marks an answer served from the result cache, which cost nothing this time.
    `json_valid` is set when the request asked for a JSON schema: True when the answer parsed
    and validated (its `text` is then that JSON, rewritten when `repairs` were needed to undo a
    code fence, surrounding prose or a cut-off tail); False on the `invalid_json` error.
    """

    custom_id: str
    ok: bool
    provider: str
    mode: Mode
    model: str | None = None
    text: str | None = None
    vector: tuple[float, ...] | None = None
    vectors: tuple[tuple[float, ...], ...] | None = None
    scores: tuple[float, ...] | None = None
    usage: Usage = Usage()
    error: ErrorInfo | None = None
    cost_usd: float | None = None
    realtime_cost_usd: float | None = None
    cached: bool = False
    json_valid: bool | None = None
    repairs: tuple[str, ...] = ()

    @classmethod
    def failure(cls, request_id: str, error: ErrorInfo, *, provider: str, mode: Mode) -> LlmResult:
        return cls(custom_id=request_id, ok=False, provider=provider, mode=mode, error=error)

    @classmethod
    def success(
        cls,
        request_id: str,
        *,
        provider: str,
        mode: Mode,
        model: str | None,
        usage: Usage,
        **payload: Unpack[AnswerPayload],
    ) -> LlmResult:
        """An answer, with the one payload its request asked for."""
        return cls(
            custom_id=request_id,
            ok=True,
            provider=provider,
            mode=mode,
            model=model,
            usage=usage,
            **payload,
        )


class BatchStatus(enum.StrEnum):
    """A provider batch's state, in OpenAI's spelling; providers map their own onto it."""

    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_BATCH


_TERMINAL_BATCH = frozenset(
    {BatchStatus.COMPLETED, BatchStatus.EXPIRED, BatchStatus.CANCELLED, BatchStatus.FAILED}
)


class BatchState(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider says about one of its batches right now."""

    batch_id: str
    status: BatchStatus
    created_at: float
    total: int = 0
    completed: int = 0
    failed: int = 0
    tag: str | None = None
    error: str | None = None


class ChunkState(enum.StrEnum):
    """Where one chunk of a job stands on the way to the provider and back.

    `submitting` means the intent is committed and a create may have reached the provider:
    a restart must reconcile (find the batch by tag) before it submits anything.
    """

    PLANNED = "planned"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    COLLECTED = "collected"
    FAILED = "failed"


class JobStatus(enum.StrEnum):
    """A job's state. Only `JobStore.reopen` takes a finished job back to `running`, when a
    re-run sends its failed requests again.

    A job never fails as a whole: each request ends with its own answer or error, and a job
    that a provider or the environment stopped stays `running`, for a re-run to resume."""

    PENDING = "pending"
    RUNNING = "running"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_JOB

    def can_become(self, other: JobStatus) -> bool:
        return other in _JOB_TRANSITIONS[self]


_TERMINAL_JOB = frozenset({JobStatus.COMPLETED, JobStatus.CANCELLED})

_JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLING, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset({JobStatus.COMPLETED, JobStatus.CANCELLING}),
    JobStatus.CANCELLING: frozenset({JobStatus.CANCELLED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class Endpoint(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where work ran: what answers, history and spend are kept apart by.

    `base_url` is normalised (see `batchery.endpoints`); None means the provider's own public
    host. `emulated` marks a Batchery emulator, whose answers and timings never stand in for a
    real endpoint's. No key is kept here.
    """

    provider: str
    base_url: str | None = None
    emulated: bool = False

    @property
    def key(self) -> str:
        """One string that tells endpoints apart, for cache keys and history lookups."""
        kind = "emulated" if self.emulated else "real"
        return f"{self.provider}|{self.base_url or 'default'}|{kind}"

    @property
    def shown(self) -> str:
        """How a person reads it: the URL, or the provider's default host, and `(emulator)`."""
        where = self.base_url or f"{self.provider} default"
        return f"{where} (emulator)" if self.emulated else where


class Job(msgspec.Struct, kw_only=True):
    """A workload run on one provider and model; its id is the run id users see."""

    id: str
    provider: str
    model: str | None
    mode: Mode
    status: JobStatus
    total: int
    created_at: float
    updated_at: float
    fingerprint: str | None = None
    reason: str | None = None
    deadline_at: float | None = None
    tenant: str | None = None
    endpoint: Endpoint | None = None
    """None only for jobs stored before endpoints were recorded."""
    input_name: str | None = None
    """The input file's name, when the job came from one, for `jobs list`."""
