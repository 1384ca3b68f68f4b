"""The job store contract: jobs, their chunks, the request ledger, results and the event log.

One process at a time drives a job, under a lease: a claim succeeds only when the job's lease
is free or expired, bumps the job's epoch and sets an expiry that the holder renews by
heartbeat. Every write that follows a claim carries the `Lease`; a store refuses a write whose
epoch is no longer the job's, or whose lease has expired, so a paused or stale process can
never overwrite the work of the one that took over. Expiry is compared on the store's clock.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Literal, Protocol

import msgspec

from batchery.model import (
    BatchState,
    BatchStatus,
    ChunkState,
    Endpoint,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Mode,
    RequestKind,
)
from batchery.spi import MalformedLine

__all__ = [
    "ChunkRecord",
    "CostRow",
    "Holder",
    "JobCounts",
    "JobHeldError",
    "JobStore",
    "Lease",
    "LeaseLostError",
    "PlannedRequest",
    "ResultCache",
    "RunHistory",
    "RunSpend",
    "SpendKey",
    "StoreBusyError",
    "StoreError",
    "StoreUnavailableError",
]


class StoreError(Exception):
    """The store cannot do what was asked; the message says what and why."""


class StoreBusyError(StoreError):
    """Another process kept the store's write lock for longer than the busy timeout."""


class StoreUnavailableError(StoreError):
    """The store cannot be used at all: a database server that does not answer or refuses
    the login, or a schema newer than this version knows."""


class LeaseLostError(StoreError):
    """This lease expired or another owner claimed the job: stop, call no provider, write
    nothing."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"{job_id}: this process's lease on the job expired or was taken over")
        self.job_id = job_id


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """The right to drive one job until `expires_at` (store clock, Unix seconds).

    `cancel_requested` says someone asked, through the store, for the job to stop.
    """

    job_id: str
    owner: str
    epoch: int
    expires_at: float
    cancel_requested: bool = False


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """Who holds a job's lease, since when, and until when unless renewed."""

    owner: str
    since: float
    expires_at: float

    @property
    def process(self) -> str:
        """`host:pid`, the part of the owner a person can act on."""
        return ":".join(self.owner.split(":")[:2])


class JobHeldError(StoreError):
    """The job's lease is held, and not expired, by another owner."""

    def __init__(self, job_id: str, holder: Holder) -> None:
        since = _dt.datetime.fromtimestamp(holder.since).isoformat(sep=" ", timespec="seconds")
        super().__init__(f"{job_id} is being driven by {holder.process} since {since}")
        self.job_id = job_id
        self.holder = holder


class PlannedRequest(msgspec.Struct, frozen=True):
    """A request as it enters the ledger, with the chunk it goes to in batch mode (or None)
    and the key its answer is cached under at the job's endpoint (None: never cached)."""

    request: LlmRequest
    chunk: int | None = None
    size: int = 0
    cache_key: str | None = None


class ChunkRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    job_id: str
    index: int
    kind: RequestKind
    model: str | None
    state: ChunkState
    request_count: int
    byte_size: int
    submit_key: str | None = None
    intent_at: float | None = None
    batch_id: str | None = None
    batch_status: BatchStatus | None = None
    attempts: int = 0
    error: str | None = None


class JobCounts(msgspec.Struct, frozen=True):
    """Outcomes so far. Savings are against the realtime price of the same work; answers
    served from the cache count as free, and `unpriced` answers have no known price."""

    total: int
    succeeded: int
    failed: int
    cost_usd: float = 0.0
    realtime_cost_usd: float = 0.0
    cached: int = 0
    unpriced: int = 0

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def savings_usd(self) -> float:
        return round(self.realtime_cost_usd - self.cost_usd, 8)


class CostRow(msgspec.Struct, frozen=True, kw_only=True):
    """Spend of one day, endpoint, model and mode. `base_url` None is the provider's public
    host; `recorded` is False for jobs stored before endpoints were recorded."""

    provider: str
    model: str | None
    mode: str | None
    day: str
    requests: int
    cost_usd: float
    realtime_cost_usd: float
    cached: int = 0
    base_url: str | None = None
    emulated: bool = False
    recorded: bool = True

    @property
    def savings_usd(self) -> float:
        return round(self.realtime_cost_usd - self.cost_usd, 8)


SpendKey = Literal["day", "provider", "model", "mode"]
"""What spend is grouped by: the UTC day an answer was stored, the run's provider, the
answer's model, or the mode it was answered in."""


class RunSpend(msgspec.Struct, frozen=True, kw_only=True):
    """Spend of one run under one grouping key (`""` where the key is unknown), summed in
    the store, so a caller that may see only some runs adds up just the rows of those."""

    run_id: str
    key: str
    requests: int
    cost_usd: float
    realtime_cost_usd: float
    cached: int = 0

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> RunSpend:
        """From a `spend_by_run` query's row: run id, key, requests, cost, realtime cost,
        cached, in that order, whichever database summed them."""
        return cls(
            run_id=row[0],
            key=str(row[1]),
            requests=int(row[2]),
            cost_usd=round(float(row[3]), 8),
            realtime_cost_usd=round(float(row[4]), 8),
            cached=int(row[5]),
        )


class ResultCache(Protocol):
    """Answers by (endpoint, model, canonical request body), so repeated work costs nothing."""

    async def get_many(self, keys: Sequence[str]) -> dict[str, LlmResult]: ...

    async def put_many(
        self, entries: Iterable[tuple[str, LlmResult]], *, endpoint: Endpoint
    ) -> None:
        """Store answers that `endpoint` gave, under keys that already include it."""
        ...

    async def remember_job(
        self,
        job_id: str,
        *,
        endpoint: Endpoint,
        chunk_id: str | None = None,
        mode: Mode | None = None,
    ) -> int:
        """Cache the job's answers that came from `endpoint` (not from the cache) under the
        keys its ledger holds, inside the store; returns how many. Only the chunk's requests
        with `chunk_id`, only answers given in `mode` with `mode`."""
        ...

    async def prune(self, older_than: float) -> int:
        """Drop entries stored before `older_than` (Unix seconds); returns how many."""
        ...


class RunHistory(Protocol):
    """What past runs teach: batch turnaround per endpoint and model, and what was spent.

    An endpoint's history speaks only for that endpoint, so an emulator's minutes never set
    a real provider's expectations.
    """

    async def record_turnaround(
        self, endpoint: Endpoint, model: str | None, requests: int, seconds: float
    ) -> None: ...

    async def turnarounds(
        self, endpoint: Endpoint, model: str | None, *, limit: int = 50
    ) -> list[tuple[int, float]]:
        """Recent (batch size, create-to-collected seconds) at `endpoint`, newest first."""
        ...

    async def cost_report(
        self, *, since: float | None = None, emulated: bool = False
    ) -> list[CostRow]:
        """Spend by day, endpoint, model and mode; real endpoints only unless `emulated`."""
        ...

    async def spend_by_run(self, by: SpendKey, *, since: float | None = None) -> list[RunSpend]:
        """Spend of every run (emulated ones too) grouped by run and `by`, answers stored
        since `since` only when given."""
        ...


class JobStore(Protocol):
    """Durable state behind `BatchLlmService`; SQLite by default, PostgreSQL for many instances."""

    @property
    def cache(self) -> ResultCache: ...

    @property
    def history(self) -> RunHistory: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create_job(
        self,
        job: Job,
        requests: Iterable[PlannedRequest],
        chunks: Sequence[ChunkRecord],
        *,
        replace: bool = False,
    ) -> Job:
        """Store the job, its whole request ledger and its chunk plan in one transaction.

        Create-or-get: when a job with the same fingerprint exists, nothing is stored and that
        job is returned instead, so two processes starting the same work make one job. With
        `replace` (a deliberate fresh start) the fingerprint moves to this job instead, and the
        earlier job keeps its results but is no longer found by it.
        """
        ...

    async def get_job(self, job_id: str) -> Job | None: ...

    async def find_job(self, fingerprint: str) -> Job | None:
        """The newest job created from the same input and options, to resume it."""
        ...

    async def list_jobs(self, *, limit: int = 50) -> list[Job]: ...

    async def claim(
        self, job_id: str, owner: str, *, lease_s: float, gone: str | None = None
    ) -> Lease:
        """Take the job's lease for `lease_s` seconds and bump its epoch; only when the lease
        is free, expired, already `owner`'s, or held by `gone`, an owner known to have died.
        Raises `JobHeldError` otherwise."""
        ...

    async def renew(self, lease: Lease, *, lease_s: float) -> Lease:
        """Extend a live lease by `lease_s` from now; `LeaseLostError` when it is not live."""
        ...

    async def release(self, lease: Lease) -> None:
        """Give the lease up, if it is still this one, so another process may claim at once."""
        ...

    async def holder(self, job_id: str) -> Holder | None:
        """Who holds the job's lease (live or expired), or None when nobody does."""
        ...

    async def request_cancel(self, job_id: str) -> None:
        """Record that the job should stop; its driver sees it at its next heartbeat."""
        ...

    async def set_endpoint(self, lease: Lease, endpoint: Endpoint) -> Job:
        """Record what is now known of the job's endpoint (an emulator that was down when the
        job was created answers as one later)."""
        ...

    async def reopen(self, lease: Lease, *, permanent: bool) -> int:
        """Take a finished job back to `running` so its failed requests are sent again.

        Drops the job's error results that were retryable (every error result when
        `permanent`), so exactly those requests (and any never answered) are pending; answers
        stay. Returns how many are pending; with none, the job is left as it was.
        """
        ...

    async def set_job_status(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        reason: str | None = None,
    ) -> Job: ...

    async def chunks(self, job_id: str) -> list[ChunkRecord]: ...

    async def chunk_requests(self, chunk_id: str) -> Iterable[LlmRequest]:
        """The chunk's requests in input order; each pass over them may decode them as it goes,
        so a chunk of 50,000 is held as its stored bytes rather than as 50,000 objects."""
        ...

    async def update_chunk(
        self,
        lease: Lease,
        chunk_id: str,
        *,
        state: ChunkState | None = None,
        submit_key: str | None = None,
        intent_at: float | None = None,
        batch: BatchState | None = None,
        attempts: int | None = None,
        error: str | None = None,
    ) -> ChunkRecord: ...

    def pending_requests(
        self, job_id: str, *, chunked: bool | None = None
    ) -> AsyncIterator[LlmRequest]:
        """Requests of the job without a result yet, in input order.

        `chunked=False` keeps only requests outside any batch chunk (a hybrid run's realtime
        slice), `True` only those in one; None keeps all.
        """
        ...

    def requests(self, job_id: str) -> AsyncIterator[LlmRequest]:
        """Every request of the job, in input order."""
        ...

    async def missing_in_chunk(self, chunk_id: str) -> list[str]:
        """custom_ids of the chunk that have no result yet."""
        ...

    async def save_results(
        self, lease: Lease, results: Iterable[LlmResult], *, chunk_id: str | None = None
    ) -> tuple[int, list[str]]:
        """Store each result once per (job, custom_id); returns (stored, unknown custom_ids).

        A result for a custom_id the job (or the given chunk) does not hold is not stored.
        """
        ...

    async def quarantine(
        self, lease: Lease, chunk_id: str, lines: Iterable[MalformedLine]
    ) -> None: ...

    async def quarantined(self, job_id: str) -> list[MalformedLine]: ...

    async def counts(self, job_id: str) -> JobCounts: ...

    def results(self, job_id: str) -> AsyncIterator[LlmResult]:
        """Every stored result of the job, in input order."""
        ...

    async def append_event(
        self, job_id: str, encode: Callable[[int], bytes], *, lease: Lease | None = None
    ) -> int:
        """Append `encode(seq)` to the job's event log under the next sequence number.

        With a `lease`, the event is refused (`LeaseLostError`) unless the lease is live.
        """
        ...

    async def events(
        self, job_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        """The job's logged events after `after_seq` in `seq` order, the first `limit` of them
        when given (a reader far behind pages through a long log instead of holding it)."""
        ...
