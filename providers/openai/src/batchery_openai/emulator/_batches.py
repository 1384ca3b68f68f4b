"""Batches and their status machine, driven by the scaled clock.

State advances lazily: each read works out where the batch's timeline stands at emulated "now"
and applies every transition due since the last read, with the timestamps they were due at. So
no background task is needed, and a clock that jumps a day ahead still yields a believable
history. Emulated durations (divide by `time_scale` for real time):

| phase | emulated duration |
| --- | --- |
| `validating` | `VALIDATING_S` = 20 s |
| `in_progress` | `1 / REQUESTS_PER_S` = 0.4 s per request (2.5 requests per second) |
| `finalizing` | `FINALIZING_S` = 20 s |
| `cancelling` | `CANCELLING_S` = 30 s |
| window | `WINDOW_S` = 24 h from create to `expires_at` |

At `time_scale=100`, 300 requests take (20 + 120 + 20) / 100 = 1.6 real seconds; at
`time_scale=1` they take under three minutes, as a small real batch does. 50,000 requests need
about 5.6 emulated hours, well inside the window, so only the `batch_expire` fault (which stalls
a batch halfway) makes one expire.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
from batchery.emulator import FaultPlan, ScaledClock

from batchery_openai.emulator._batch_io import (
    Results,
    Validation,
    failed_before,
    validate_input,
    write_results,
)
from batchery_openai.emulator._files import FileStore, link_copy
from batchery_openai.emulator._http import ApiError, Ids
from batchery_openai.emulator._wire import (
    BatchError,
    BatchErrors,
    BatchObject,
    CreateBatchBody,
    ListPage,
    RequestCounts,
)

__all__ = [
    "CANCELLING_S",
    "ENDPOINTS",
    "FINALIZING_S",
    "REQUESTS_PER_S",
    "VALIDATING_S",
    "WINDOW_S",
    "BatchStore",
]

VALIDATING_S = 20.0
REQUESTS_PER_S = 2.5
FINALIZING_S = 20.0
CANCELLING_S = 30.0
WINDOW_S = 24 * 3600.0
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")
"""The batch endpoints the emulator serves; OpenAI accepts more."""

_CANCELLABLE = frozenset({"validating", "in_progress", "finalizing"})


class _Batch:
    def __init__(self, wire: BatchObject, input_path: Path, validation: asyncio.Task[Validation]):
        self.wire = wire
        self.input_path = input_path
        self.validation = validation
        self.lock = asyncio.Lock()
        self.created = float(wire.created_at)
        self.started = 0.0
        self.stopped_at: int | None = None
        self.stall: int | None = None
        self.output_ttl: int | None = None


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
            raise ApiError(
                400,
                f"The input file {body.input_file_id} was not uploaded with purpose 'batch'.",
                param="input_file_id",
            )
        batch_id = self._ids.batch()
        now = self._clock.now()
        input_path = self._root / f"{batch_id}.input.jsonl"
        link_copy(source.path, input_path)
        task = asyncio.create_task(
            asyncio.to_thread(validate_input, input_path, body.endpoint, batch_id, self._plan)
        )
        wire = BatchObject(
            id=batch_id,
            endpoint=body.endpoint,
            input_file_id=body.input_file_id,
            completion_window=body.completion_window,
            status="validating",
            created_at=int(now),
            expires_at=int(now + WINDOW_S),
            metadata=body.metadata,
        )
        batch = _Batch(wire, input_path, task)
        batch.created = now
        if body.output_expires_after is not None:
            batch.output_ttl = int(body.output_expires_after.get("seconds", 0)) or None
        self._batches[batch_id] = batch
        return _copy(wire)

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return batch

    async def retrieve(self, batch_id: str) -> BatchObject:
        batch = self._get(batch_id)
        await self._advance(batch)
        return _copy(batch.wire)

    def created_at(self, batch_id: str) -> float:
        return self._get(batch_id).created

    async def list_page(self, *, after: str | None, limit: int) -> ListPage:
        ordered = list(reversed(self._batches.values()))
        if after is not None:
            ids = [b.wire.id for b in ordered]
            ordered = ordered[ids.index(after) + 1 :] if after in ids else []
        page = ordered[:limit]
        for batch in page:
            await self._advance(batch)
        data = [_copy(b.wire) for b in page]
        return ListPage(
            data=data,
            has_more=len(ordered) > limit,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )

    async def cancel(self, batch_id: str) -> BatchObject:
        """Start cancelling; asking again while cancelling, or once cancelled, changes nothing."""
        batch = self._get(batch_id)
        await self._advance(batch)
        async with batch.lock:
            wire = batch.wire
            if wire.status in _CANCELLABLE:
                now = self._clock.now()
                batch.stopped_at = self._processed(batch, now) if wire.status != "validating" else 0
                wire.status, wire.cancelling_at = "cancelling", int(now)
            elif wire.status not in ("cancelling", "cancelled"):
                raise ApiError(
                    400, f"Cannot cancel a batch with status '{wire.status}'.", param="batch_id"
                )
            return _copy(wire)

    async def refresh(self) -> None:
        for batch in list(self._batches.values()):
            await self._advance(batch)

    def snapshot(self) -> list[BatchObject]:
        return [_copy(b.wire) for b in self._batches.values()]

    async def wait_idle(self) -> None:
        """Let validations still running in worker threads finish, before files are removed."""
        for batch in list(self._batches.values()):
            if not batch.validation.done():
                await asyncio.wait({batch.validation})

    def _processed(self, batch: _Batch, at: float) -> int:
        total = batch.wire.request_counts.total
        done = int((at - batch.started) * REQUESTS_PER_S + 1e-9)
        return max(0, min(total, done, total if batch.stall is None else batch.stall))

    async def _advance(self, batch: _Batch) -> None:
        async with batch.lock:
            while await self._step(batch, self._clock.now()):
                pass

    async def _step(self, batch: _Batch, now: float) -> bool:
        """Apply the next transition due by `now`; False when the batch is where it should be."""
        wire = batch.wire
        if wire.status == "validating":
            due = batch.created + VALIDATING_S
            if now < due:
                return False
            return self._validated(batch, await batch.validation, due)
        if wire.status == "in_progress":
            total = wire.request_counts.total
            done_at = batch.started + total / REQUESTS_PER_S
            expires = batch.created + WINDOW_S
            if batch.stall is not None or done_at > expires:
                if now >= expires:
                    batch.stopped_at = self._processed(batch, expires)
                    await self._finish(batch, "expired", expires)
                    return False
            elif now >= done_at:
                wire.status, wire.finalizing_at = "finalizing", int(done_at)
                self._count(batch, total)
                return True
            self._count(batch, self._processed(batch, now))
            return False
        if wire.status == "finalizing":
            due = float(wire.finalizing_at or 0) + FINALIZING_S
            if now >= due:
                batch.stopped_at = wire.request_counts.total
                await self._finish(batch, "completed", due)
            return False
        if wire.status == "cancelling":
            due = float(wire.cancelling_at or 0) + CANCELLING_S
            if now >= due:
                validation = await batch.validation
                if validation.errors:
                    wire.status, wire.cancelled_at = "cancelled", int(due)
                    return False
                self._validated_counts(batch, validation)
                await self._finish(batch, "cancelled", due)
        return False

    def _validated(self, batch: _Batch, validation: Validation, due: float) -> bool:
        wire = batch.wire
        wire.model = validation.model
        if not validation.errors and self._plan.hit("token_limit", wire.id):
            validation.errors.append(_token_limit(validation.model or "the model"))
        if validation.errors:
            wire.status, wire.failed_at = "failed", int(due)
            wire.errors = BatchErrors(data=validation.errors)
            return False
        self._validated_counts(batch, validation)
        wire.status, wire.in_progress_at = "in_progress", int(due)
        batch.started = due
        if self._plan.hit("batch_expire", wire.id):
            batch.stall = validation.total // 2
        return True

    def _validated_counts(self, batch: _Batch, validation: Validation) -> None:
        batch.wire.request_counts = RequestCounts(total=validation.total)

    def _count(self, batch: _Batch, processed: int) -> None:
        validation = batch.validation.result()
        failed = failed_before(validation, processed)
        counts = batch.wire.request_counts
        counts.completed, counts.failed = processed - failed, failed

    async def _finish(self, batch: _Batch, ending: str, at: float) -> None:
        wire = batch.wire
        results = await asyncio.to_thread(
            write_results,
            input_path=batch.input_path,
            output_path=self._files.scratch_path(),
            error_path=self._files.scratch_path(),
            batch_id=wire.id,
            validation=batch.validation.result(),
            processed=batch.stopped_at or 0,
            ending=ending,
            created=int(at),
            plan=self._plan,
        )
        self._attach(batch, results)
        wire.status = ending
        setattr(wire, f"{ending}_at", int(at))

    def _attach(self, batch: _Batch, results: Results) -> None:
        wire = batch.wire
        wire.request_counts = results.counts
        wire.usage = results.usage
        for path, kind in ((results.output, "output"), (results.errors, "error")):
            if path is None:
                continue
            added = self._files.add(
                path, filename=f"{wire.id}_{kind}.jsonl", purpose="batch_output"
            )
            if batch.output_ttl is not None:
                added.expires_at = added.created_at + batch.output_ttl
            setattr(wire, f"{kind}_file_id", added.id)
        if wire.error_file_id is None and self._plan.hit("empty_error_file", wire.id):
            wire.error_file_id = ""


def _token_limit(model: str) -> BatchError:
    message = (
        f"Enqueued token limit reached for {model} in organization org-emulator. Limit: "
        "2,000,000 enqueued tokens. Please try again once some in_progress batches have been "
        "completed."
    )
    return BatchError(code="token_limit_exceeded", message=message)


def _check_create(body: CreateBatchBody) -> None:
    if body.completion_window != "24h":
        raise ApiError(
            400,
            f"Invalid 'completion_window': {body.completion_window!r}; only '24h' is supported.",
            param="completion_window",
        )
    if body.endpoint not in ENDPOINTS:
        raise ApiError(
            400,
            f"Invalid 'endpoint': {body.endpoint!r}; the emulator serves {', '.join(ENDPOINTS)}.",
            param="endpoint",
        )
    metadata = body.metadata or {}
    if len(metadata) > 16:
        raise ApiError(400, "Invalid 'metadata': at most 16 pairs.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64:
            message = f"Invalid 'metadata': key {key[:16]!r}… is over 64 characters."
            raise ApiError(400, message, param="metadata")
        if len(value) > 512:
            message = f"Invalid 'metadata': the value of {key[:16]!r} is over 512 characters."
            raise ApiError(400, message, param="metadata")
    expiry = body.output_expires_after
    if expiry is not None:
        seconds = expiry.get("seconds")
        valid = isinstance(seconds, int) and 3600 <= seconds <= 2_592_000
        if expiry.get("anchor") != "created_at" or not valid:
            raise ApiError(
                400,
                "Invalid 'output_expires_after': anchor 'created_at', seconds 3600 to 2592000.",
                param="output_expires_after",
            )


def _copy(wire: BatchObject) -> BatchObject:
    return msgspec.json.decode(msgspec.json.encode(wire), type=BatchObject)
