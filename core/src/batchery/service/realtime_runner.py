"""Run requests as direct calls with bounded concurrency and capped, jittered retries.

Results are written in small groups rather than one commit per call, so the store never limits
throughput; a crash loses at most one group, whose requests are simply called again on resume.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from batchery.events import Progress
from batchery.model import Job, LlmRequest, LlmResult
from batchery.progress import ProgressBus
from batchery.service.options import ServiceOptions
from batchery.spi import Provider
from batchery.store import JobStore, Lease

__all__ = ["RealtimeRunner", "retry_delay"]

_FLUSH_COUNT = 200
_FLUSH_INTERVAL_S = 0.25
_BASE_DELAY_S = 0.5
_MAX_DELAY_S = 30.0


def retry_delay(attempt: int, retry_after_s: float | None) -> float:
    """The provider's own advice when it gave one, else jittered exponential backoff."""
    if retry_after_s is not None and retry_after_s > 0:
        return min(retry_after_s, _MAX_DELAY_S) * random.uniform(1.0, 1.1)
    backoff: float = _BASE_DELAY_S * 2.0 ** (attempt - 1)
    return min(backoff, _MAX_DELAY_S) * random.uniform(0.75, 1.0)


class RealtimeRunner:
    def __init__(
        self,
        *,
        store: JobStore,
        provider: Provider,
        bus: ProgressBus,
        options: ServiceOptions,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._provider = provider
        self._bus = bus
        self._options = options
        self._sleep = sleep

    async def run(self, lease: Lease, job: Job, requests: AsyncIterator[LlmRequest]) -> None:
        queue: asyncio.Queue[LlmRequest | None] = asyncio.Queue(
            self._options.realtime_concurrency * 2
        )
        pending: list[LlmResult] = []
        last_flush = time.monotonic()
        workers = self._options.realtime_concurrency

        async def flush() -> None:
            nonlocal last_flush
            batch = pending.copy()
            pending.clear()
            last_flush = time.monotonic()
            if batch:
                await self._store.save_results(lease, batch)
                counts = await self._store.counts(job.id)
                await self._bus.emit(
                    job.id,
                    Progress,
                    completed=counts.succeeded,
                    failed=counts.failed,
                    total=counts.total,
                    phase="realtime",
                )

        async def worker() -> None:
            while (request := await queue.get()) is not None:
                pending.append(await self._call(request))
                if (
                    len(pending) >= _FLUSH_COUNT
                    or time.monotonic() - last_flush >= _FLUSH_INTERVAL_S
                ):
                    await flush()

        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
            async for request in requests:
                await queue.put(request)
            for _ in range(workers):
                await queue.put(None)
        await flush()

    async def _call(self, request: LlmRequest) -> LlmResult:
        attempt = 1
        while True:
            result = await self._provider.call(request)
            error = result.error
            if result.ok or error is None or not error.retryable:
                return result
            if attempt >= self._options.max_attempts:
                return result
            await self._sleep(retry_delay(attempt, error.retry_after_s))
            attempt += 1
