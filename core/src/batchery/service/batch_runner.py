"""Drive a batch job's chunks to the provider and back, safely across crashes.

For each chunk the intent (state `submitting` and a submit key) is committed before the
provider is called, the provider batch is tagged with that key, and only then is its id linked.
A restart that finds a chunk still `submitting` never resubmits blindly: it first asks the
provider for a batch carrying the key and adopts it.

Whatever a batch produced is kept, at every terminal state. Requests it did not finish, or
finished with a retryable error, stay pending so the service can finish them in realtime;
only permanent errors (and everything, when fallback is off or the job was cancelled) are
stored as error results here. A batch create the provider refuses outright (a 4xx: a bad
request, an unknown model, an unsupported kind) ends its requests with that error at once:
the same requests sent one by one would only be refused again.

The lease is checked before every provider call that creates or spends (a submit uploads and
creates; a cancel), so a process that lost it calls nothing more. Once a cancel is asked for,
no further chunk is submitted.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

from batchery.crashpoints import crashpoint
from batchery.events import BatchSubmitted, FallbackStarted, OverSla
from batchery.model import (
    BatchState,
    BatchStatus,
    ChunkState,
    ErrorInfo,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Mode,
    RequestKind,
)
from batchery.pricing import CostBook
from batchery.progress import ProgressBus
from batchery.service._tasks import task_group
from batchery.service.answer_check import checked_answer, is_invalid_json
from batchery.service.batch_progress import BatchProgress, over_sla_after
from batchery.service.lease_keeper import LeaseKeeper
from batchery.service.options import ServiceOptions
from batchery.service.result_cache import remember_answers
from batchery.spi import BatchNotFoundError, MalformedLine, Provider, ProviderError
from batchery.store import ChunkRecord, JobStore, Lease

__all__ = ["BatchRunner"]

_log = structlog.get_logger("batchery.batch")

_FLUSH = 2000
_CLOCK_SKEW_S = 300.0
_DEADLINE_MARGIN = 1.2

_UNFINISHED: dict[BatchStatus, tuple[str, str]] = {
    BatchStatus.COMPLETED: (
        "missing_result",
        "the provider finished the batch without a result for it",
    ),
    BatchStatus.EXPIRED: ("batch_expired", "the batch expired before this request was done"),
    BatchStatus.CANCELLED: (
        "batch_cancelled",
        "the batch was cancelled before this request was done",
    ),
    BatchStatus.FAILED: ("batch_failed", "the provider failed the batch"),
}


class BatchRunner:
    """One job's batch path. Every write carries the job's lease; a lost lease stops it.

    `realtime_seconds(n)` estimates how long `n` requests take in realtime and `turnaround_s`
    how long a batch is expected to take; with the job's deadline they decide when waiting for
    the batch no longer pays. A batch older than `over_sla_after` its `turnaround_s` raises
    `OverSla` once (it is never failed locally for that).
    """

    def __init__(
        self,
        *,
        store: JobStore,
        keeper: LeaseKeeper,
        provider: Provider,
        bus: ProgressBus,
        options: ServiceOptions,
        book: CostBook,
        realtime_seconds: Callable[[int], float] | None = None,
        turnaround_s: float | None = None,
        reask_invalid: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._keeper = keeper
        self._provider = provider
        self._bus = bus
        self._options = options
        self._book = book
        self._realtime_seconds = realtime_seconds
        self._turnaround_s = turnaround_s
        self._sla_s = (
            None
            if turnaround_s is None
            else over_sla_after(turnaround_s, options.poll_max_interval_s)
        )
        self._sleep = sleep
        self._reask_invalid = reask_invalid
        self._collect_failures: dict[str, int] = {}
        self.progress = BatchProgress(store, bus)
        self._over_sla: set[str] = set()
        self.fell_back = False
        self.asked_again: set[str] = set()
        """Requests whose batch answer was not the JSON they asked for, left to be asked again."""

    async def submit_all(self, lease: Lease, job: Job) -> None:
        """Submit every chunk not yet with the provider, reconciling interrupted submissions."""
        for chunk in await self._store.chunks(job.id):
            if self._keeper.cancel_requested.is_set():
                return
            if chunk.state is ChunkState.PLANNED:
                await self._submit(lease, job, chunk)
            elif chunk.state is ChunkState.SUBMITTING:
                await self._reconcile(lease, job, chunk)

    async def step(self, lease: Lease, job: Job) -> bool:
        """Poll every live chunk once and collect the finished ones; True when none is left
        (or when the deadline says to stop waiting and finish in realtime)."""
        live = [c for c in await self._store.chunks(job.id) if c.state is ChunkState.SUBMITTED]
        async with task_group() as polling:
            for chunk in live:
                polling.create_task(self._poll(lease, job, chunk))
        await self.progress.report(job)
        if await self._past_deadline(lease, job):
            return True
        return not any(c.state is ChunkState.SUBMITTED for c in await self._store.chunks(job.id))

    async def run(self, lease: Lease, job: Job) -> None:
        """Submit, then poll with backoff until every chunk is collected or the deadline nears."""
        await self.submit_all(lease, job)
        interval = self._options.poll_interval_s
        while not await self.step(lease, job):
            await self._sleep(await self._next_wait(job, interval))
            interval = min(interval * self._options.poll_backoff, self._options.poll_max_interval_s)

    async def _next_wait(self, job: Job, interval: float) -> float:
        """The poll interval, cut short so the deadline check runs when the fallback is due.

        With a backed-off interval of a minute, waking only on schedule would start the
        fallback up to a minute late, past the deadline.
        """
        if self.fell_back or job.deadline_at is None or self._realtime_seconds is None:
            return interval
        due = job.deadline_at - await self._realtime_needed(job) - time.time()
        return min(interval, due) if due > 0 else min(interval, self._options.poll_interval_s)

    async def _realtime_needed(self, job: Job) -> float:
        """How long before the deadline the fallback must start: the realtime estimate for
        what is left, with a margin and one poll interval."""
        assert self._realtime_seconds is not None
        counts = await self._store.counts(job.id)
        left = counts.total - counts.finished
        return self._realtime_seconds(left) * _DEADLINE_MARGIN + self._options.poll_interval_s

    async def cancel(self, lease: Lease, job: Job) -> None:
        """Ask the provider to stop every live chunk; chunks never sent end as cancelled."""
        for chunk in await self._store.chunks(job.id):
            if chunk.state is ChunkState.SUBMITTED and chunk.batch_id is not None:
                self._keeper.check()
                state = await self._provider.cancel_batch(chunk.batch_id)
                await self._store.update_chunk(lease, chunk.id, batch=state)
            elif chunk.state is ChunkState.PLANNED:
                await self._fail_chunk(
                    lease,
                    job,
                    chunk,
                    "batch_cancelled",
                    "the job was cancelled before this request was sent",
                    retryable=False,
                )

    async def _past_deadline(self, lease: Lease, job: Job) -> bool:
        """Whether to stop waiting for the batch and finish in realtime now.

        Only once realtime would no longer make the deadline if started later, and only when the
        batch is not expected to deliver sooner than realtime would (a batch already past its
        expected turnaround is not expected to deliver at all).
        """
        if self.fell_back or job.deadline_at is None or self._realtime_seconds is None:
            return False
        counts = await self._store.counts(job.id)
        left = counts.total - counts.finished
        needed = await self._realtime_needed(job)
        now = time.time()
        if left == 0 or now + needed < job.deadline_at:
            return False
        if self._batch_seconds_left(await self._store.chunks(job.id), now) <= needed:
            return False
        self.fell_back = True
        await self._bus.emit(
            job.id,
            FallbackStarted,
            count=left,
            reason=f"the batch would miss the deadline; {left} requests"
            f" need about {needed:.0f}s in realtime",
        )
        for chunk in await self._store.chunks(job.id):
            if chunk.state is ChunkState.SUBMITTED and chunk.batch_id is not None:
                self._keeper.check()
                try:
                    await self._store.update_chunk(
                        lease, chunk.id, batch=await self._provider.cancel_batch(chunk.batch_id)
                    )
                except ProviderError as exc:
                    _log.warning(
                        "cancel for fallback failed", job=job.id, chunk=chunk.index, code=exc.code
                    )
        return True

    def _batch_seconds_left(self, chunks: list[ChunkRecord], now: float) -> float:
        """How much longer the slowest live chunk is expected to take; infinite when unknown."""
        if self._turnaround_s is None:
            return math.inf
        ages = [now - (c.intent_at or now) for c in chunks if c.state is ChunkState.SUBMITTED]
        if not ages or max(ages) >= self._turnaround_s:
            return math.inf
        return self._turnaround_s - max(ages)

    async def _submit(self, lease: Lease, job: Job, chunk: ChunkRecord) -> None:
        resume = chunk.submit_key is not None
        chunk = await self._store.update_chunk(
            lease,
            chunk.id,
            state=ChunkState.SUBMITTING,
            submit_key=chunk.submit_key or uuid.uuid4().hex,
            intent_at=time.time(),
            attempts=chunk.attempts + 1,
        )
        crashpoint("after_intent")
        assert chunk.submit_key is not None
        requests = await self._store.chunk_requests(chunk.id)
        self._keeper.check()
        try:
            state = await self._provider.submit_batch(requests, tag=chunk.submit_key, resume=resume)
        except ProviderError as exc:
            if not exc.retryable:
                await self._refuse_chunk(lease, job, chunk, exc)
                return
            _log.warning(
                "batch create outcome unknown", job=job.id, chunk=chunk.index, code=exc.code
            )
            if exc.retry_after_s:
                await self._sleep(exc.retry_after_s)
            await self._reconcile(lease, job, chunk)
            return
        crashpoint("after_create_before_link")
        await self._link(lease, job, chunk, state)

    async def _reconcile(self, lease: Lease, job: Job, chunk: ChunkRecord) -> None:
        assert chunk.submit_key is not None
        assert chunk.intent_at is not None
        since = chunk.intent_at - _CLOCK_SKEW_S
        for attempt in range(2):
            found = await self._provider.find_batch(
                chunk.submit_key, created_after=since, request_count=chunk.request_count
            )
            if found is not None:
                _log.info(
                    "adopted batch found by tag",
                    job=job.id,
                    chunk=chunk.index,
                    batch=found.batch_id,
                )
                await self._link(lease, job, chunk, found)
                return
            if attempt == 0:
                await self._sleep(self._options.reconcile_grace_s)
        if chunk.attempts >= self._options.max_attempts:
            await self._fail_chunk(
                lease,
                job,
                chunk,
                "submit_failed",
                f"the batch could not be created in {chunk.attempts} attempts",
            )
            return
        await self._submit(lease, job, chunk)

    async def _link(self, lease: Lease, job: Job, chunk: ChunkRecord, state: BatchState) -> None:
        await self._store.update_chunk(lease, chunk.id, state=ChunkState.SUBMITTED, batch=state)
        crashpoint("after_link")
        await self._bus.emit(
            job.id,
            BatchSubmitted,
            chunk=chunk.index,
            batch_id=state.batch_id,
            requests=chunk.request_count,
        )

    async def _poll(self, lease: Lease, job: Job, chunk: ChunkRecord) -> None:
        assert chunk.batch_id is not None
        age = time.time() - (chunk.intent_at or 0.0)
        try:
            state = await self._provider.get_batch(chunk.batch_id)
        except BatchNotFoundError:
            if age < self._options.not_found_grace_s:
                return
            await self._fail_chunk(
                lease,
                job,
                chunk,
                "batch_not_found",
                f"the provider no longer knows batch {chunk.batch_id}",
            )
            return
        except ProviderError as exc:
            if exc.retryable:
                return
            raise
        if state.status != chunk.batch_status:
            chunk = await self._store.update_chunk(lease, chunk.id, batch=state)
        self.progress.saw(chunk.id, state)
        if state.status.terminal:
            await self._collect(lease, job, chunk, state)
            if state.status is BatchStatus.COMPLETED and job.endpoint is not None:
                await self._store.history.record_turnaround(
                    job.endpoint, chunk.model, chunk.request_count, age
                )
        elif self._sla_s is not None and age > self._sla_s and chunk.id not in self._over_sla:
            self._over_sla.add(chunk.id)
            await self._bus.emit(
                job.id,
                OverSla,
                chunk=chunk.index,
                batch_id=state.batch_id,
                phase=state.status,
                age_s=round(age, 1),
                expected_s=self._turnaround_s,
            )

    async def _collect(self, lease: Lease, job: Job, chunk: ChunkRecord, state: BatchState) -> None:
        crashpoint("before_collect")
        keep_retryable = await self._finish_here(job)
        asked = await self._schema_requests(chunk)
        buffer: list[LlmResult] = []
        malformed: list[MalformedLine] = []
        saving = _SaveBehind(lambda page: self._save(lease, chunk, page))
        try:
            async for line in self._provider.collect(state):
                if isinstance(line, MalformedLine):
                    malformed.append(line)
                    continue
                if line.custom_id in asked:
                    line = checked_answer(asked[line.custom_id], line)
                if is_invalid_json(line) and self._reask_invalid and not keep_retryable:
                    self.asked_again.add(line.custom_id)
                elif keep_retryable or line.ok or not _retryable(line) or is_invalid_json(line):
                    buffer.append(line)
                if len(buffer) >= _FLUSH:
                    await saving.save(buffer)
                    buffer = []
                    crashpoint("mid_collect")
        except ProviderError as exc:
            failures = self._collect_failures.get(chunk.id, 0) + 1
            self._collect_failures[chunk.id] = failures
            _log.warning(
                "collect interrupted",
                job=job.id,
                chunk=chunk.index,
                code=exc.code,
                attempt=failures,
            )
            if exc.retryable and failures < self._options.max_attempts:
                await saving.save(buffer)
                await saving.drain()
                return
        except BaseException:
            saving.abandon()
            raise
        await saving.save(buffer)
        await saving.drain()
        if malformed:
            _log.warning(
                "unreadable result lines quarantined",
                job=job.id,
                chunk=chunk.index,
                count=len(malformed),
            )
            await self._store.quarantine(lease, chunk.id, malformed)
        await remember_answers(self._store, job, chunk_id=chunk.id)
        crashpoint("after_collect_before_mark")
        if keep_retryable:
            code, message = _UNFINISHED[state.status]
            if state.status is BatchStatus.FAILED and state.error:
                message = f"{message}: {state.error}"
            error = ErrorInfo(code=code, message=message, retryable=True)
            await self._fail_missing(lease, job, chunk, error)
        await self._store.update_chunk(lease, chunk.id, state=ChunkState.COLLECTED, batch=state)
        self.progress.done(chunk.id)

    async def _schema_requests(self, chunk: ChunkRecord) -> dict[str, LlmRequest]:
        """The chunk's requests that ask for a JSON schema, whose answers are checked."""
        if chunk.kind is not RequestKind.CHAT:
            return {}
        return {
            r.custom_id: r
            for r in await self._store.chunk_requests(chunk.id)
            if r.response_schema is not None
        }

    async def _finish_here(self, job: Job) -> bool:
        """Whether unfinished requests end as errors now rather than going on in realtime."""
        if not self._options.fallback:
            return True
        current = await self._store.get_job(job.id)
        return current is not None and current.status is JobStatus.CANCELLING

    async def _save(self, lease: Lease, chunk: ChunkRecord, results: list[LlmResult]) -> None:
        if not results:
            return
        priced = [self._book.priced(result) for result in results]
        _, unknown = await self._store.save_results(lease, priced, chunk_id=chunk.id)
        if unknown:
            await self._store.quarantine(
                lease,
                chunk.id,
                [
                    MalformedLine(line=0, reason="custom_id not in this batch", custom_id=cid)
                    for cid in unknown
                ],
            )

    async def _fail_chunk(
        self,
        lease: Lease,
        job: Job,
        chunk: ChunkRecord,
        code: str,
        message: str,
        *,
        retryable: bool = True,
    ) -> None:
        _log.error("chunk failed", job=job.id, chunk=chunk.index, code=code)
        if await self._finish_here(job):
            error = ErrorInfo(code=code, message=message, retryable=retryable)
            await self._fail_missing(lease, job, chunk, error)
        await self._store.update_chunk(
            lease, chunk.id, state=ChunkState.FAILED, error=f"{code}: {message}"
        )

    async def _refuse_chunk(
        self, lease: Lease, job: Job, chunk: ChunkRecord, exc: ProviderError
    ) -> None:
        _log.error("batch create refused", job=job.id, chunk=chunk.index, code=exc.code)
        error = ErrorInfo(code=exc.code, message=exc.message, status=exc.status)
        await self._fail_missing(lease, job, chunk, error)
        await self._store.update_chunk(
            lease, chunk.id, state=ChunkState.FAILED, error=f"{exc.code}: {exc.message}"
        )

    async def _fail_missing(
        self, lease: Lease, job: Job, chunk: ChunkRecord, error: ErrorInfo
    ) -> None:
        """End the chunk's unanswered requests with `error`; retryable ones are sent again
        when the same run is repeated."""
        missing = await self._store.missing_in_chunk(chunk.id)
        await self._store.save_results(
            lease,
            [
                LlmResult.failure(cid, error, provider=job.provider, mode=Mode.BATCH)
                for cid in missing
            ],
        )


class _SaveBehind:
    """Stores one page of results while the next is parsed: the store's thread and the
    parse overlap, and at most one page is ever in flight.

    `save` returns once the page before is stored (so a crash after it has lost at most the
    page just handed over, which a replayed collect stores again); `drain` waits for the last.
    """

    def __init__(self, store: Callable[[list[LlmResult]], Coroutine[Any, Any, None]]) -> None:
        self._store = store
        self._inflight: asyncio.Task[None] | None = None

    async def save(self, page: list[LlmResult]) -> None:
        await self.drain()
        if page:
            self._inflight = asyncio.create_task(self._store(page))

    async def drain(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            await inflight

    def abandon(self) -> None:
        """Stop a page still in flight when the collect ends by an error or a cancel."""
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()


def _retryable(result: LlmResult) -> bool:
    return result.error is not None and result.error.retryable
