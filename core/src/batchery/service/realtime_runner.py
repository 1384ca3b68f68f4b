"""Run requests as direct calls: bounded concurrency, a shared adaptive limiter, capped retries.

A rate-limit answer pauses every caller of that account and model for the time the provider
asked, and does not use up the request's own attempts (it was not the request's fault), up to
a separate cap. An answer that is not the JSON its schema asked for (`invalid_json`) is asked
again at once, one time. Other retryable errors are retried with jittered backoff up to
`max_attempts`; permanent ones end at once as explicit errors.

Results are written in small groups rather than one commit per call, so the store never limits
throughput; a crash loses at most one group, whose requests are simply called again on resume.

The lease is checked before every call, so a process that lost it calls nothing more; once a
cancel is asked for, no further request is called (the service marks the rest cancelled).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from batchery.events import ItemRetried
from batchery.model import RATE_LIMITED, ErrorInfo, Job, LlmRequest, LlmResult
from batchery.pricing import CostBook
from batchery.progress import ProgressBus
from batchery.service._tasks import task_group
from batchery.service.answer_check import checked_answer, is_invalid_json
from batchery.service.batch_progress import BatchProgress
from batchery.service.lease_keeper import LeaseKeeper
from batchery.service.limiter import LimiterRegistry
from batchery.service.options import ServiceOptions
from batchery.spi import Provider
from batchery.store import JobStore, Lease

__all__ = ["MAX_THROTTLED", "RealtimeRunner", "is_throttled", "retry_delay"]

MAX_THROTTLED = 20
"""Rate-limit answers one request may meet before it ends as an error."""

_FLUSH_COUNT = 500
_FLUSH_INTERVAL_S = 0.25
"""At most this often a realtime `Progress` event, so a fast run does not flood the feed."""
_BASE_DELAY_S = 0.5
_MAX_DELAY_S = 30.0


def retry_delay(attempt: int, retry_after_s: float | None) -> float:
    """The provider's own advice when it gave one, else jittered exponential backoff."""
    if retry_after_s is not None and retry_after_s > 0:
        return min(retry_after_s, _MAX_DELAY_S) * random.uniform(1.0, 1.1)
    backoff: float = _BASE_DELAY_S * 2.0 ** (attempt - 1)
    return min(backoff, _MAX_DELAY_S) * random.uniform(0.75, 1.0)


def is_throttled(error: ErrorInfo) -> bool:
    """A refusal for going too fast: each provider maps its own words to the neutral code."""
    return error.code == RATE_LIMITED


class RealtimeRunner:
    def __init__(
        self,
        *,
        store: JobStore,
        keeper: LeaseKeeper,
        provider: Provider,
        bus: ProgressBus,
        options: ServiceOptions,
        limiters: LimiterRegistry,
        book: CostBook,
        progress: BatchProgress | None = None,
        asked_again: frozenset[str] = frozenset(),
        reask_invalid: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`progress` is the job's reporter when its batch path already reports (a fallback);
        `asked_again` names requests already asked twice for their JSON (once in a batch);
        without `reask_invalid` no answer is asked again for that reason."""
        self._store = store
        self._keeper = keeper
        self._provider = provider
        self._bus = bus
        self._options = options
        self._limiters = limiters
        self._book = book
        self._progress = progress or BatchProgress(store, bus)
        self._asked_again = asked_again
        self._reask_invalid = reask_invalid
        self._sleep = sleep

    async def run(self, lease: Lease, job: Job, requests: AsyncIterator[LlmRequest]) -> None:
        """Call every request from `requests` and store one result for each.

        Workers only call; one writer stores whatever results have gathered each time it gets
        a turn, so a store write never holds up a call and batches grow with the load.
        """
        workers = self._options.realtime_concurrency
        todo: asyncio.Queue[LlmRequest | None] = asyncio.Queue(workers * 2)
        done: asyncio.Queue[LlmResult | None] = asyncio.Queue()

        async def worker() -> None:
            while (request := await todo.get()) is not None:
                result = await self._call(job, request)
                if result is not None:
                    done.put_nowait(result)

        async def feed() -> None:
            async with task_group() as group:
                for _ in range(workers):
                    group.create_task(worker())
                async for request in requests:
                    if self._keeper.cancel_requested.is_set():
                        break
                    await todo.put(request)
                for _ in range(workers):
                    await todo.put(None)
            done.put_nowait(None)

        async with task_group() as group:
            group.create_task(feed())
            group.create_task(self._write(lease, job, done))

    async def _write(self, lease: Lease, job: Job, done: asyncio.Queue[LlmResult | None]) -> None:
        counts = await self._store.counts(job.id)
        succeeded, failed = counts.succeeded, counts.failed
        last_report = 0.0
        finished = False
        while not finished:
            batch: list[LlmResult] = []
            item = await done.get()
            while item is not None:
                batch.append(item)
                if done.empty() or len(batch) >= _FLUSH_COUNT:
                    break
                item = done.get_nowait()
            finished = item is None
            if not batch:
                continue
            await self._store.save_results(lease, batch)
            ok = sum(1 for r in batch if r.ok)
            succeeded, failed = succeeded + ok, failed + len(batch) - ok
            if finished or time.monotonic() - last_report >= _FLUSH_INTERVAL_S:
                last_report = time.monotonic()
                await self._progress.counted(
                    job, completed=succeeded, failed=failed, total=counts.total, phase="realtime"
                )

    async def _call(self, job: Job, request: LlmRequest) -> LlmResult | None:
        """The request's result, or None when the job was cancelled before it was called."""
        limiter = self._limiters.limiter(self._provider, request.model)
        calls = attempts = throttled = 0
        may_ask_again = self._reask_invalid and request.custom_id not in self._asked_again
        while True:
            await limiter.acquire()
            if self._keeper.cancel_requested.is_set():
                return None
            self._keeper.check()
            self._limiters.started(self._provider, request.model)
            started = time.monotonic()
            try:
                result = checked_answer(request, await self._provider.call(request))
            finally:
                self._limiters.finished(self._provider, request.model)
            calls += 1
            limiter.record(
                time.monotonic() - started, result.usage.input_tokens + result.usage.output_tokens
            )
            error = result.error
            if result.ok or error is None or not error.retryable:
                return self._book.priced(result)
            if is_invalid_json(result):
                if not may_ask_again:
                    return self._book.priced(result)
                may_ask_again = False
            elif is_throttled(error):
                throttled += 1
                if throttled > MAX_THROTTLED:
                    return result
                limiter.pause(retry_delay(throttled, error.retry_after_s))
            else:
                attempts += 1
                if attempts >= self._options.max_attempts:
                    return result
                await self._sleep(retry_delay(attempts, error.retry_after_s))
            await self._bus.emit(
                job.id,
                ItemRetried,
                custom_id=request.custom_id,
                attempt=calls + 1,
                reason=error.code,
            )
