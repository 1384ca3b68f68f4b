"""A Files-and-Batches style batch engine: the status timeline over the scaled clock.

A batch is `validating`, then `failed` or `in_progress`, then `finalizing` and `completed`;
it can be cancelled (`cancelling`, then `cancelled`, with the results of what ran) and it can
run out of its window, stalled by the `batch_expire` fault halfway. State advances lazily:
each read works out where the timeline stands at emulated "now" and applies every transition
due since the last read, at the times they were due. So no background task is needed, and a
clock that jumps a day ahead still yields a believable history.

What differs between providers is a `Timeline` (durations, window, which statuses may be
cancelled, how an expired batch ends, how stamps are rounded) and the hooks a subclass
implements: checking the input, writing result lines, keeping result files, and its errors.
"""

from __future__ import annotations

import abc
import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from batchery.emulator._batch_io import Render, ResultFiles, Validation, write_result_files
from batchery.emulator._clock import ScaledClock
from batchery.emulator._faults import FaultPlan
from batchery.emulator._files import link_copy
from batchery.emulator._wire import BatchError, BatchErrors, RequestCounts, paginate

__all__ = ["Batch", "BatchEngine", "Timeline"]

J = TypeVar("J")


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's batch timing and status rules, in emulated seconds."""

    requests_per_s: float
    window_s: float
    cancellable: frozenset[str]
    validating_s: float = 20.0
    finalizing_s: float = 20.0
    cancelling_s: float = 30.0
    recancellable: frozenset[str] = frozenset()
    """Statuses in which a repeated cancel changes nothing instead of being refused."""
    expired_status: str = "expired"
    """How a batch that ran out of its window ends."""
    finalize_expired: bool = False
    """Whether an expired batch is finalized first, or ends at the deadline itself."""
    whole_seconds: bool = False
    """Stamps are whole seconds, and later phases are timed from the rounded stamps."""
    count_rejected: bool = False
    """Whether a batch that failed validation reports its request total."""


class Batch(Generic[J]):
    """One batch's state; `job` is the provider's own record of what was asked."""

    def __init__(self, batch_id: str, job: J, created: float, input_path: Path) -> None:
        self.id = batch_id
        self.job = job
        self.created = created
        self.input_path = input_path
        self.validation: asyncio.Task[Validation]
        self.lock = asyncio.Lock()
        self.status = "validating"
        self.times: dict[str, float] = {}
        """When each status after `validating` began, as the provider reports it."""
        self.counts = RequestCounts()
        self.model: str | None = None
        self.errors: BatchErrors | None = None
        self.output_file_id: str | None = None
        self.error_file_id: str | None = None
        self.started = 0.0
        self.processed = 0
        self.stall: int | None = None
        self.unrun = "expired"
        """Why requests that never ran did not: `expired`, or `cancelled` once cancelled."""


class BatchEngine(abc.ABC, Generic[J]):
    """Batches by id, advanced along `timeline`; inputs are kept in `root` while they run."""

    def __init__(
        self,
        root: Path,
        clock: ScaledClock,
        plan: FaultPlan,
        timeline: Timeline,
        scratch_path: Callable[[], Path],
    ) -> None:
        self._root = root
        self._clock = clock
        self._plan = plan
        self._timeline = timeline
        self._scratch_path = scratch_path
        self._batches: dict[str, Batch[J]] = {}

    @abc.abstractmethod
    def validate(self, batch: Batch[J]) -> Validation:
        """Check the batch's input file (in a worker thread)."""

    @abc.abstractmethod
    def write_results(
        self, batch: Batch[J], output_path: Path, error_path: Path, at: float
    ) -> ResultFiles:
        """Write results for the first `batch.processed` requests (in a worker thread)."""

    def write_lines(
        self, batch: Batch[J], output_path: Path, error_path: Path, render: Render
    ) -> ResultFiles:
        """The result files of a format with one result line per input line, each as `render`
        makes it: the whole of `write_results` for such a format, but for its `render`."""
        return write_result_files(
            input_path=batch.input_path,
            output_path=output_path,
            error_path=error_path,
            batch_id=batch.id,
            validation=batch.validation.result(),
            processed=batch.processed,
            plan=self._plan,
            render=render,
        )

    @abc.abstractmethod
    def keep_result(self, batch: Batch[J], path: Path, kind: str, at: float) -> str:
        """Register a result file (`kind` is `output` or `error`) made at `at`; answer its id.

        `at` is when the batch ended, which a lazy read may only reach later: a result file is
        never newer than the batch's end stamp."""

    @abc.abstractmethod
    def token_limit(self, batch: Batch[J], validation: Validation) -> BatchError:
        """The error of the `token_limit` fault."""

    @abc.abstractmethod
    def not_found(self, batch_id: str) -> Exception:
        """The error for an unknown batch id."""

    @abc.abstractmethod
    def cannot_cancel(self, batch: Batch[J]) -> Exception:
        """The error for cancelling a batch whose status does not allow it."""

    def open(self, batch_id: str, job: J, source: Path) -> Batch[J]:
        """Start a batch on a link to the file at `source`; validation begins at once."""
        now = self._clock.now()
        input_path = self._root / f"{batch_id}.input.jsonl"
        link_copy(source, input_path)
        batch = Batch(batch_id, job, now, input_path)
        batch.validation = asyncio.create_task(asyncio.to_thread(self.validate, batch))
        self._batches[batch_id] = batch
        return batch

    def stamp(self, at: float) -> float:
        return float(math.floor(at)) if self._timeline.whole_seconds else at

    def get(self, batch_id: str) -> Batch[J]:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise self.not_found(batch_id)
        return batch

    async def retrieve(self, batch_id: str) -> Batch[J]:
        batch = self.get(batch_id)
        await self._advance(batch)
        return batch

    def hidden(self, batch_id: str) -> bool:
        """Whether the `batch_404` fault still hides this batch from reads."""
        if "batch_404" not in self._plan:
            return False
        created = self.get(batch_id).created
        return self._clock.now() < created + self._plan.value("batch_404")

    def batches(self) -> list[Batch[J]]:
        """Every batch as last advanced, oldest first."""
        return list(self._batches.values())

    async def page(self, *, after: str | None, limit: int) -> tuple[list[Batch[J]], bool]:
        """Newest first, the `limit` batches after `after`, advanced; and whether more follow."""
        newest = list(reversed(self._batches.values()))
        page, more = paginate(newest, after=after, limit=limit, id_of=lambda b: b.id)
        for batch in page:
            await self._advance(batch)
        return page, more

    async def cancel(self, batch_id: str) -> Batch[J]:
        """Start cancelling; what ran so far still gets results when it is cancelled."""
        batch = self.get(batch_id)
        await self._advance(batch)
        async with batch.lock:
            if batch.status in self._timeline.cancellable:
                now = self._clock.now()
                if batch.status == "in_progress":
                    batch.processed = self._processed(batch, now)
                batch.status, batch.unrun = "cancelling", "cancelled"
                batch.times["cancelling"] = self.stamp(now)
            elif batch.status not in self._timeline.recancellable:
                raise self.cannot_cancel(batch)
            return batch

    async def refresh(self) -> None:
        for batch in list(self._batches.values()):
            await self._advance(batch)

    async def wait_idle(self) -> None:
        """Let validations still running in worker threads finish, before files are removed."""
        for batch in list(self._batches.values()):
            if not batch.validation.done():
                await asyncio.wait({batch.validation})

    def _processed(self, batch: Batch[J], at: float) -> int:
        total = batch.counts.total
        done = int((at - batch.started) * self._timeline.requests_per_s + 1e-9)
        return max(0, min(total, done, total if batch.stall is None else batch.stall))

    async def _advance(self, batch: Batch[J]) -> None:
        async with batch.lock:
            while await self._step(batch, self._clock.now()):
                pass

    async def _step(self, batch: Batch[J], now: float) -> bool:
        """Apply the next transition due by `now`; False when the batch is where it should be."""
        line = self._timeline
        if batch.status == "validating":
            due = batch.created + line.validating_s
            if now < due:
                return False
            return self._validated(batch, await batch.validation, due)
        if batch.status == "in_progress":
            total = batch.counts.total
            done_at = batch.started + total / line.requests_per_s
            expires = batch.created + line.window_s
            if batch.stall is None and done_at <= expires and now >= done_at:
                batch.processed = total
                return self._finalize(batch, done_at)
            if now >= expires:
                batch.processed = self._processed(batch, expires)
                if line.finalize_expired:
                    return self._finalize(batch, expires)
                await self._finish(batch, line.expired_status, expires)
                return False
            self._count(batch, self._processed(batch, now))
            return False
        if batch.status == "finalizing":
            due = batch.times["finalizing"] + line.finalizing_s
            if now >= due:
                whole = batch.processed >= batch.counts.total
                await self._finish(batch, "completed" if whole else line.expired_status, due)
            return False
        if batch.status == "cancelling":
            due = batch.times["cancelling"] + line.cancelling_s
            if now >= due:
                validation = await batch.validation
                if not validation.errors:
                    await self._finish(batch, "cancelled", due)
                    return False
                batch.status, batch.times["cancelled"] = "cancelled", self.stamp(due)
                if line.count_rejected:
                    batch.counts = RequestCounts(total=validation.total)
        return False

    def _validated(self, batch: Batch[J], validation: Validation, due: float) -> bool:
        batch.model = validation.model
        if not validation.errors and self._plan.hit("token_limit", batch.id):
            validation.errors.append(self.token_limit(batch, validation))
        if self._timeline.count_rejected or not validation.errors:
            batch.counts = RequestCounts(total=validation.total)
        if validation.errors:
            batch.status, batch.times["failed"] = "failed", self.stamp(due)
            batch.errors = BatchErrors(data=validation.errors)
            return False
        batch.status, batch.times["in_progress"] = "in_progress", self.stamp(due)
        batch.started = due
        if self._plan.hit("batch_expire", batch.id):
            batch.stall = validation.total // 2
        return True

    def _finalize(self, batch: Batch[J], at: float) -> bool:
        self._count(batch, batch.processed)
        batch.status, batch.times["finalizing"] = "finalizing", self.stamp(at)
        return True

    def _count(self, batch: Batch[J], processed: int) -> None:
        failed = batch.validation.result().failed_before(processed)
        batch.counts.completed, batch.counts.failed = processed - failed, failed

    async def _finish(self, batch: Batch[J], ending: str, at: float) -> None:
        output_path, error_path = self._scratch_path(), self._scratch_path()
        results = await asyncio.to_thread(self.write_results, batch, output_path, error_path, at)
        batch.counts = results.counts
        if results.output is not None:
            batch.output_file_id = self.keep_result(batch, results.output, "output", at)
        if results.errors is not None:
            batch.error_file_id = self.keep_result(batch, results.errors, "error", at)
        if batch.error_file_id is None and self._plan.hit("empty_error_file", batch.id):
            batch.error_file_id = ""
        batch.status, batch.times[ending] = ending, self.stamp(at)
