"""Message Batches and their status machine, driven by the scaled clock.

State advances lazily: each read works out where the batch's timeline stands at emulated "now"
and applies every transition due since the last read, with the timestamps they were due at, so
no background task is needed and a clock that jumps a day ahead still yields a believable
history. Request counts other than `processing` stay 0 until the batch has ended, as at
Anthropic. Emulated durations (divide by `time_scale` for real time):

| phase | emulated duration |
| --- | --- |
| queued, then `in_progress` | `START_S` = 10 s, then `1 / REQUESTS_PER_S` = 0.4 s a request |
| `canceling` | `CANCELING_S` = 20 s; requests not run by the cancel end `canceled` |
| window | `WINDOW_S` = 24 h from create to `expires_at`; requests not run end `expired` |
| results | kept `RESULTS_TTL_S` = 29 days from create, then `archived_at` is set |

100,000 requests need about 11 emulated hours, inside the window, so only the `batch_expire`
fault (which stalls a batch halfway) makes one expire.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from batchery.emulator import FaultPlan, ScaledClock

from batchery_anthropic.emulator._http import ApiError, Ids, rfc3339
from batchery_anthropic.emulator._results import write_requests, write_results
from batchery_anthropic.emulator._wire import (
    CreateBody,
    DeletedBatch,
    ListPage,
    MessageBatch,
    RequestCounts,
)

__all__ = [
    "CANCELING_S",
    "MAX_REQUESTS",
    "REQUESTS_PER_S",
    "RESULTS_TTL_S",
    "START_S",
    "WINDOW_S",
    "BatchStore",
]

START_S = 10.0
REQUESTS_PER_S = 2.5
CANCELING_S = 20.0
WINDOW_S = 24 * 3600.0
RESULTS_TTL_S = 29 * 24 * 3600.0
MAX_REQUESTS = 100_000

_T = TypeVar("_T")
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")


class _Batch:
    def __init__(self, batch_id: str, created: float, total: int, input_path: Path) -> None:
        self.id = batch_id
        self.created = created
        self.total = total
        self.input_path = input_path
        self.results_path = input_path.with_suffix(".results.jsonl")
        self.status = "in_progress"
        self.counts = RequestCounts(processing=total)
        self.lock = asyncio.Lock()
        self.cancel_at: float | None = None
        self.ended_at: float | None = None
        self.stopped = 0
        self.stall: int | None = None

    def processed(self, at: float) -> int:
        done = int((at - self.created - START_S) * REQUESTS_PER_S + 1e-9)
        cap = self.total if self.stall is None else self.stall
        return max(0, min(done, cap))

    def render(self, origin: str, now: float) -> MessageBatch:
        archived = self.created + RESULTS_TTL_S if now >= self.created + RESULTS_TTL_S else None
        results_url = None
        if self.status == "ended" and archived is None:
            results_url = f"{origin}/v1/messages/batches/{self.id}/results"
        return MessageBatch(
            id=self.id,
            processing_status=self.status,
            request_counts=msgspec.structs.replace(self.counts),
            created_at=rfc3339(self.created),
            expires_at=rfc3339(self.created + WINDOW_S),
            ended_at=rfc3339(self.ended_at) if self.ended_at is not None else None,
            archived_at=rfc3339(archived) if archived is not None else None,
            cancel_initiated_at=rfc3339(self.cancel_at) if self.cancel_at is not None else None,
            results_url=results_url,
        )


def _check_create(body: CreateBody) -> None:
    count = len(body.requests)
    if count == 0:
        raise ApiError(400, "requests: List should have at least 1 item, not 0")
    if count > MAX_REQUESTS:
        raise ApiError(400, f"requests: List should have at most {MAX_REQUESTS} items, not {count}")
    seen: set[str] = set()
    for index, request in enumerate(body.requests):
        if not _CUSTOM_ID.fullmatch(request.custom_id):
            raise ApiError(
                400,
                f"requests.{index}.custom_id: String should match pattern "
                "'^[a-zA-Z0-9_-]{1,64}$'",
            )
        if request.custom_id in seen:
            raise ApiError(
                400,
                f"requests.{index}.custom_id: custom_id {request.custom_id!r} is used by more "
                "than one request; each must be unique within a batch",
            )
        seen.add(request.custom_id)
        if not bytes(request.params).lstrip().startswith(b"{"):
            raise ApiError(400, f"requests.{index}.params: Input should be a valid dictionary")


class BatchStore:
    def __init__(self, root: Path, ids: Ids, clock: ScaledClock, plan: FaultPlan) -> None:
        self._root = root
        self._ids = ids
        self._clock = clock
        self._plan = plan
        self._batches: dict[str, _Batch] = {}
        self._writing: set[asyncio.Future[Any]] = set()

    async def _in_thread(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Await work in a worker thread that `wait_idle` can still see if the caller goes."""
        task = asyncio.ensure_future(work)
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        return await asyncio.shield(task)

    async def create(self, body: CreateBody, origin: str) -> MessageBatch:
        _check_create(body)
        batch_id = self._ids.batch()
        now = self._clock.now()
        batch = _Batch(batch_id, now, len(body.requests), self._root / f"{batch_id}.jsonl")
        await self._in_thread(asyncio.to_thread(write_requests, body.requests, batch.input_path))
        if self._plan.hit("batch_expire", batch_id):
            batch.stall = batch.total // 2
        self._batches[batch_id] = batch
        return batch.render(origin, now)

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"message_batch {batch_id!r} not found", type="not_found_error")
        return batch

    def created_at(self, batch_id: str) -> float:
        return self._get(batch_id).created

    async def retrieve(self, batch_id: str, origin: str) -> MessageBatch:
        batch = self._get(batch_id)
        await self._advance(batch)
        return batch.render(origin, self._clock.now())

    async def list_page(
        self, *, origin: str, limit: int, after_id: str | None, before_id: str | None
    ) -> ListPage:
        """Newest first; `after_id` pages toward older batches, `before_id` toward newer."""
        ordered = list(reversed(self._batches.values()))
        ids = [b.id for b in ordered]
        if after_id is not None:
            rest = ordered[ids.index(after_id) + 1 :] if after_id in ids else []
            page, has_more = rest[:limit], len(rest) > limit
        elif before_id is not None:
            rest = ordered[: ids.index(before_id)] if before_id in ids else []
            page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = ordered[:limit], len(ordered) > limit
        for batch in page:
            await self._advance(batch)
        now = self._clock.now()
        data = [b.render(origin, now) for b in page]
        return ListPage(
            data=data,
            has_more=has_more,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )

    async def cancel(self, batch_id: str, origin: str) -> MessageBatch:
        """Start canceling; asking again while canceling changes nothing."""
        batch = self._get(batch_id)
        await self._advance(batch)
        async with batch.lock:
            now = self._clock.now()
            if batch.status == "in_progress":
                batch.status, batch.cancel_at = "canceling", now
                batch.stopped = batch.processed(now)
            elif batch.status == "ended":
                raise ApiError(400, f"message_batch {batch_id!r} has already ended")
            return batch.render(origin, now)

    async def results_path(self, batch_id: str) -> Path:
        batch = self._get(batch_id)
        await self._advance(batch)
        if batch.status != "ended":
            message = f"results of message_batch {batch_id!r} are not available until it ends"
            raise ApiError(404, message, type="not_found_error")
        if self._clock.now() >= batch.created + RESULTS_TTL_S:
            message = f"results of message_batch {batch_id!r} have been archived"
            raise ApiError(404, message, type="not_found_error")
        return batch.results_path

    async def delete(self, batch_id: str) -> DeletedBatch:
        batch = self._get(batch_id)
        await self._advance(batch)
        if batch.status != "ended":
            raise ApiError(
                400,
                f"message_batch {batch_id!r} cannot be deleted while it is processing; "
                "cancel it first",
            )
        del self._batches[batch_id]
        batch.input_path.unlink(missing_ok=True)
        batch.results_path.unlink(missing_ok=True)
        return DeletedBatch(id=batch_id)

    async def refresh(self) -> None:
        for batch in list(self._batches.values()):
            await self._advance(batch)

    def snapshot(self, origin: str) -> list[MessageBatch]:
        now = self._clock.now()
        return [b.render(origin, now) for b in self._batches.values()]

    async def wait_idle(self) -> None:
        """Let files still being written in worker threads finish, before they are removed."""
        if self._writing:
            await asyncio.wait(set(self._writing))

    async def _advance(self, batch: _Batch) -> None:
        async with batch.lock:
            now = self._clock.now()
            if batch.status == "in_progress":
                done_at = batch.created + START_S + batch.total / REQUESTS_PER_S
                expires = batch.created + WINDOW_S
                if batch.stall is None and done_at <= expires:
                    if now >= done_at:
                        await self._finish(batch, batch.total, "expired", done_at)
                elif now >= expires:
                    await self._finish(batch, batch.processed(expires), "expired", expires)
            elif batch.status == "canceling" and batch.cancel_at is not None:
                due = batch.cancel_at + CANCELING_S
                if now >= due:
                    await self._finish(batch, batch.stopped, "canceled", due)

    async def _finish(self, batch: _Batch, processed: int, unrun: str, at: float) -> None:
        work = asyncio.to_thread(
            write_results,
            input_path=batch.input_path,
            output_path=batch.results_path,
            batch_id=batch.id,
            processed=processed,
            unrun=unrun,
            plan=self._plan,
        )
        batch.counts = await self._in_thread(work)
        batch.status, batch.ended_at = "ended", at
