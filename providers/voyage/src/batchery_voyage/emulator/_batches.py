"""Batches and their status machine, driven by the scaled clock.

State advances lazily: each read works out where the batch's timeline stands at emulated "now"
and applies every transition due since the last read, at the times they were due. So no
background task is needed, and a clock that jumps a day ahead still yields a believable
history. Emulated durations (divide by `time_scale` for real time):

| phase | emulated duration |
| --- | --- |
| `validating` | `VALIDATING_S` = 20 s |
| `in_progress` | `1 / REQUESTS_PER_S` = 0.2 s per request (5 requests per second) |
| `finalizing` | `FINALIZING_S` = 20 s |
| `cancelling` | `CANCELLING_S` = 30 s (Voyage allows up to 10 min) |
| window | `WINDOW_S` = 12 h from create |

100,000 requests take about 5.6 emulated hours, inside the window, so only the `batch_expire`
fault (which stalls a batch halfway) makes one run out of time. Voyage's reference lists no
status for that case (provider-wire-formats.md §4.6); the emulator follows the older guide
examples: the batch is finalized and ends `partially_completed` (with `partially_completed_at`),
its unfinished requests in the error file as `batch_expired`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
from batchery.emulator import FaultPlan, ScaledClock

from batchery_voyage.emulator._batch_io import (
    Results,
    Validation,
    failed_before,
    validate_input,
    write_results,
)
from batchery_voyage.emulator._files import OUTPUT_PURPOSE, FileStore, link_copy
from batchery_voyage.emulator._http import ApiError, Ids, rfc3339
from batchery_voyage.emulator._responses import check_params
from batchery_voyage.emulator._wire import (
    BatchError,
    BatchErrors,
    BatchObject,
    CreateBatchBody,
    ListPage,
    RequestCounts,
)

__all__ = [
    "CANCELLING_S",
    "FINALIZING_S",
    "IN_FLIGHT",
    "REQUESTS_PER_S",
    "VALIDATING_S",
    "WINDOW_S",
    "BatchStore",
]

VALIDATING_S = 20.0
REQUESTS_PER_S = 5.0
FINALIZING_S = 20.0
CANCELLING_S = 30.0
WINDOW_S = 12 * 3600.0
IN_FLIGHT = frozenset({"validating", "in_progress", "finalizing", "cancelling"})

_CANCELLABLE = frozenset({"validating", "in_progress"})
_TIMES = (
    "in_progress",
    "finalizing",
    "completed",
    "partially_completed",
    "failed",
    "cancelling",
    "cancelled",
)


class _Batch:
    """One batch's timeline in emulated seconds; `wire()` renders it as Voyage answers."""

    def __init__(
        self,
        batch_id: str,
        body: CreateBatchBody,
        created: float,
        input_path: Path,
        validation: asyncio.Task[Validation],
    ) -> None:
        self.id = batch_id
        self.body = body
        self.created = created
        self.input_path = input_path
        self.validation = validation
        self.lock = asyncio.Lock()
        self.status = "validating"
        self.times: dict[str, float] = {}
        self.counts = RequestCounts()
        self.errors: BatchErrors | None = None
        self.output_file_id: str | None = None
        self.error_file_id: str | None = None
        self.processed = 0
        self.stall: int | None = None
        self.unrun = "expired"

    def wire(self) -> BatchObject:
        stamps: dict[str, Any] = {
            f"{name}_at": rfc3339(self.times[name]) for name in _TIMES if name in self.times
        }
        return BatchObject(
            id=self.id,
            endpoint=self.body.endpoint,
            input_file_id=self.body.input_file_id,
            completion_window=self.body.completion_window,
            status=self.status,
            created_at=rfc3339(self.created),
            expected_completion_at=rfc3339(self.created + WINDOW_S),
            model=self.body.request_params.get("model"),
            errors=self.errors,
            output_file_id=self.output_file_id,
            error_file_id=self.error_file_id,
            request_counts=msgspec.structs.replace(self.counts),
            metadata=dict(self.body.metadata) if self.body.metadata is not None else None,
            **stamps,
        )


class BatchStore:
    def __init__(
        self, root: Path, files: FileStore, ids: Ids, clock: ScaledClock, plan: FaultPlan
    ) -> None:
        self._root = root
        self._files = files
        self._ids = ids
        self._clock = clock
        self._plan = plan
        self._batches: dict[str, _Batch] = {}

    async def create(self, body: CreateBatchBody) -> BatchObject:
        _check_create(body)
        source = self._files.get(body.input_file_id)
        if source.wire.purpose != "batch":
            raise ApiError(400, f"File {body.input_file_id} was not uploaded with purpose 'batch'.")
        batch_id = self._ids.batch()
        input_path = self._root / f"{batch_id}.input.jsonl"
        link_copy(source.path, input_path)
        task = asyncio.create_task(
            asyncio.to_thread(validate_input, input_path, body.endpoint, batch_id, self._plan)
        )
        batch = _Batch(batch_id, body, self._clock.now(), input_path, task)
        self._batches[batch_id] = batch
        return batch.wire()

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"Batch {batch_id} not found.")
        return batch

    async def retrieve(self, batch_id: str) -> BatchObject:
        batch = self._get(batch_id)
        await self._advance(batch)
        return batch.wire()

    def created_at(self, batch_id: str) -> float:
        return self._get(batch_id).created

    async def in_flight(self) -> int:
        await self.refresh()
        return sum(batch.status in IN_FLIGHT for batch in self._batches.values())

    async def list_page(self, *, after: str | None, limit: int) -> ListPage:
        ordered = list(reversed(self._batches.values()))
        if after is not None:
            ids = [b.id for b in ordered]
            ordered = ordered[ids.index(after) + 1 :] if after in ids else []
        page = ordered[:limit]
        for batch in page:
            await self._advance(batch)
        data = [b.wire() for b in page]
        return ListPage(
            data=data,
            has_more=len(ordered) > limit,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )

    async def cancel(self, batch_id: str) -> BatchObject:
        """Start cancelling; Voyage refuses any batch no longer validating or in progress."""
        batch = self._get(batch_id)
        await self._advance(batch)
        async with batch.lock:
            if batch.status not in _CANCELLABLE:
                raise ApiError(400, f"Batch {batch_id} cannot be cancelled in '{batch.status}'.")
            now = self._clock.now()
            if batch.status == "in_progress":
                batch.processed = self._processed(batch, now)
            batch.status, batch.unrun = "cancelling", "cancelled"
            batch.times["cancelling"] = now
            return batch.wire()

    async def refresh(self) -> None:
        for batch in list(self._batches.values()):
            await self._advance(batch)

    def snapshot(self) -> list[BatchObject]:
        return [b.wire() for b in self._batches.values()]

    async def wait_idle(self) -> None:
        """Let validations still running in worker threads finish, before files are removed."""
        for batch in list(self._batches.values()):
            if not batch.validation.done():
                await asyncio.wait({batch.validation})

    def _processed(self, batch: _Batch, at: float) -> int:
        total = batch.counts.total
        done = int((at - batch.times["in_progress"]) * REQUESTS_PER_S + 1e-9)
        return max(0, min(total, done, total if batch.stall is None else batch.stall))

    async def _advance(self, batch: _Batch) -> None:
        async with batch.lock:
            while await self._step(batch, self._clock.now()):
                pass

    async def _step(self, batch: _Batch, now: float) -> bool:
        """Apply the next transition due by `now`; False when the batch is where it should be."""
        if batch.status == "validating":
            due = batch.created + VALIDATING_S
            if now < due:
                return False
            return self._validated(batch, await batch.validation, due)
        if batch.status == "in_progress":
            total = batch.counts.total
            done_at = batch.times["in_progress"] + total / REQUESTS_PER_S
            expires = batch.created + WINDOW_S
            if batch.stall is None and done_at <= expires and now >= done_at:
                batch.processed = total
                return self._finalize(batch, done_at)
            if now >= expires:
                batch.processed = self._processed(batch, expires)
                return self._finalize(batch, expires)
            self._count(batch, self._processed(batch, now))
            return False
        if batch.status == "finalizing":
            due = batch.times["finalizing"] + FINALIZING_S
            if now >= due:
                expired = batch.processed < batch.counts.total
                await self._finish(batch, "partially_completed" if expired else "completed", due)
            return False
        if batch.status == "cancelling":
            due = batch.times["cancelling"] + CANCELLING_S
            if now >= due:
                validation = await batch.validation
                if validation.errors:
                    batch.status, batch.times["cancelled"] = "cancelled", due
                    batch.counts = RequestCounts(total=validation.total)
                    return False
                await self._finish(batch, "cancelled", due)
        return False

    def _validated(self, batch: _Batch, validation: Validation, due: float) -> bool:
        if not validation.errors and self._plan.hit("token_limit", batch.id):
            validation.errors.append(_token_limit())
        if validation.errors:
            batch.status, batch.times["failed"] = "failed", due
            batch.errors = BatchErrors(data=validation.errors)
            batch.counts = RequestCounts(total=validation.total)
            return False
        batch.counts = RequestCounts(total=validation.total)
        batch.status, batch.times["in_progress"] = "in_progress", due
        if self._plan.hit("batch_expire", batch.id):
            batch.stall = validation.total // 2
        return True

    def _finalize(self, batch: _Batch, at: float) -> bool:
        self._count(batch, batch.processed)
        batch.status, batch.times["finalizing"] = "finalizing", at
        return True

    def _count(self, batch: _Batch, processed: int) -> None:
        failed = failed_before(batch.validation.result(), processed)
        batch.counts.completed, batch.counts.failed = processed - failed, failed

    async def _finish(self, batch: _Batch, ending: str, at: float) -> None:
        results = await asyncio.to_thread(
            write_results,
            input_path=batch.input_path,
            output_path=self._files.scratch_path(),
            error_path=self._files.scratch_path(),
            batch_id=batch.id,
            endpoint=batch.body.endpoint,
            params=batch.body.request_params,
            validation=batch.validation.result(),
            processed=batch.processed,
            unrun=batch.unrun,
            plan=self._plan,
        )
        self._attach(batch, results)
        batch.status, batch.times[ending] = ending, at

    def _attach(self, batch: _Batch, results: Results) -> None:
        batch.counts = results.counts
        for path, kind in ((results.output, "output"), (results.errors, "error")):
            if path is None:
                continue
            name = f"batch_{batch.id}_{kind}"
            added = self._files.add(path, filename=name, purpose=OUTPUT_PURPOSE)
            setattr(batch, f"{kind}_file_id", added.id)
        if batch.error_file_id is None and self._plan.hit("empty_error_file", batch.id):
            batch.error_file_id = ""


def _token_limit() -> BatchError:
    """The `token_limit` fault: Voyage caps tokens across in-flight batches at 1B (§4.7)."""
    message = (
        "The batch would take the tokens of in-flight batches past the organization's limit "
        "of 1,000,000,000. Please retry once some batches have finished."
    )
    return BatchError(code="token_limit_exceeded", message=message)


def _check_create(body: CreateBatchBody) -> None:
    if body.completion_window != "12h":
        raise ApiError(400, f"completion_window must be '12h', not {body.completion_window!r}.")
    check_params(body.endpoint, body.request_params)
    metadata = body.metadata or {}
    if len(metadata) > 16:
        raise ApiError(400, "metadata holds at most 16 pairs.")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise ApiError(400, "metadata keys hold at most 64 characters, values 512.")
