"""`BatchLlmService`: the one entry point for running a workload, from code, the CLI or a node."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping

import msgspec

from batchery.events import ModeChosen, RunFinished, RunStarted
from batchery.model import (
    ChunkState,
    ErrorInfo,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Mode,
    RejectedRequest,
)
from batchery.progress import ProgressBus
from batchery.service.batch_runner import BatchRunner
from batchery.service.chunking import ChunkPlanner
from batchery.service.options import ServiceOptions
from batchery.service.realtime_runner import RealtimeRunner
from batchery.service.validation import check_custom_id, check_request
from batchery.spi import Provider
from batchery.store import ChunkRecord, JobCounts, JobStore, Lease, PlannedRequest

__all__ = [
    "BatchLlmService",
    "InvalidInputError",
    "JobReport",
    "RunOutcome",
    "UnknownProviderError",
]


class UnknownProviderError(LookupError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no provider named {name!r} is installed (installed: {names})")


class InvalidInputError(ValueError):
    """The submission as a whole cannot be accepted; nothing of it was stored."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} request(s) cannot be accepted:\n{shown}{more}")


class JobReport(msgspec.Struct, frozen=True):
    job: Job
    counts: JobCounts
    chunks: list[ChunkRecord]


class RunOutcome(msgspec.Struct, frozen=True, kw_only=True):
    job: Job
    counts: JobCounts
    batches_submitted: int
    duration_s: float
    resumed: bool = False


class BatchLlmService:
    """Runs workloads on the installed providers and keeps every step in the job store."""

    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        store: JobStore,
        bus: ProgressBus,
        options: ServiceOptions | None = None,
    ) -> None:
        self._providers = providers
        self._store = store
        self._bus = bus
        self._options = options or ServiceOptions()
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def store(self) -> JobStore:
        return self._store

    @property
    def bus(self) -> ProgressBus:
        return self._bus

    def provider(self, name: str | None = None) -> Provider:
        name = name or self._options.default_provider
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProviderError(name, self._providers) from None

    async def run(
        self,
        requests: Iterable[LlmRequest | RejectedRequest],
        *,
        provider: str | None = None,
        model: str | None = None,
        mode: Mode = Mode.AUTO,
        fingerprint: str | None = None,
    ) -> RunOutcome:
        """Run a workload to the end and return its outcome; results stay in the store.

        With a `fingerprint`, an unfinished job made from the same input is resumed instead of
        starting again, so a crashed run repeated by the caller never submits twice.
        """
        if fingerprint is not None:
            existing = await self._store.find_job(fingerprint)
            if existing is not None:
                return await self.resume(existing.id)
        job = await self._create(requests, provider, model, mode, fingerprint)
        return await self._drive(job, resumed=False)

    async def resume(self, job_id: str) -> RunOutcome:
        job = await self._job(job_id)
        if job.status.terminal:
            return await self._outcome(job, resumed=True)
        return await self._drive(job, resumed=True)

    async def submit_batch(
        self,
        requests: Iterable[LlmRequest],
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> Job:
        """Create a batch job and hand every chunk to the provider; returns without waiting."""
        job = await self._create(requests, provider, model, Mode.BATCH, None)
        lease = await self._start(job, resumed=False)
        await self._batch_runner(job).submit_all(lease, job)
        return await self._job(job.id)

    async def get_batch_status(self, job_id: str, *, refresh: bool = True) -> JobReport:
        """The job as stored; with `refresh`, first poll the provider once and collect."""
        job = await self._job(job_id)
        if refresh and not job.status.terminal and job.mode is Mode.BATCH:
            lease = await self._store.claim(job.id, self._owner)
            runner = self._batch_runner(job)
            await runner.submit_all(lease, job)
            if await runner.step(lease, job):
                await self._finish(lease, job)
            job = await self._job(job_id)
        return JobReport(job, await self._store.counts(job_id), await self._store.chunks(job_id))

    def get_batch_results(self, job_id: str) -> AsyncIterator[LlmResult]:
        """Every result stored so far, in input order."""
        return self._store.results(job_id)

    async def cancel_batch(self, job_id: str) -> Job:
        """Ask the provider to stop; results it already produced are still collected."""
        job = await self._job(job_id)
        if job.status.terminal:
            return job
        lease = await self._store.claim(job.id, self._owner)
        job = await self._store.set_job_status(
            lease, JobStatus.CANCELLING, reason="cancelled by request"
        )
        if job.mode is Mode.BATCH:
            await self._batch_runner(job).cancel(lease, job)
        return job

    async def submit_and_wait(
        self,
        requests: Iterable[LlmRequest],
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> list[LlmResult]:
        outcome = await self.run(requests, provider=provider, model=model, mode=Mode.BATCH)
        return [r async for r in self._store.results(outcome.job.id)]

    async def _create(
        self,
        requests: Iterable[LlmRequest | RejectedRequest],
        provider_name: str | None,
        model: str | None,
        mode: Mode,
        fingerprint: str | None,
    ) -> Job:
        provider = self.provider(provider_name)
        info = provider.info
        accepted: list[tuple[LlmRequest, str | None]] = []
        problems: list[str] = []
        seen: set[str] = set()
        for position, request in enumerate(requests, start=1):
            rule = check_custom_id(request.custom_id)
            if rule is None and request.custom_id in seen:
                rule = "custom_id must be unique within a job; it is a duplicate"
            if rule is not None:
                problems.append(f"request {position} ({request.custom_id!r}): {rule}")
                continue
            seen.add(request.custom_id)
            if isinstance(request, RejectedRequest):
                accepted.append((LlmRequest(custom_id=request.custom_id), request.reason))
                continue
            chosen_model = (
                request.model
                or model
                or self._options.default_model
                or info.default_models.get(request.kind)
            )
            request = msgspec.structs.replace(request, model=chosen_model)
            accepted.append((request, check_request(request, provider)))
        if problems:
            raise InvalidInputError(problems)
        valid = sum(1 for _, rule in accepted if rule is None)
        mode, reason = self._choose_mode(mode, valid, provider)
        limits = info.limits
        planner = ChunkPlanner(
            max_requests=min(
                limits.max_requests_per_batch,
                self._options.max_requests_per_batch or limits.max_requests_per_batch,
            ),
            max_bytes=min(
                limits.max_bytes_per_batch,
                self._options.max_bytes_per_batch or limits.max_bytes_per_batch,
            ),
        )
        job_id = f"run_{uuid.uuid4().hex[:16]}"
        planned: list[PlannedRequest] = []
        invalid: list[LlmResult] = []
        for request, rule in accepted:
            chunk = None
            if rule is None and mode is Mode.BATCH:
                size = provider.batch_size_of(request)
                if size > planner.max_bytes:
                    rule = (
                        f"the request takes {size} bytes; a {info.name} batch holds at most "
                        f"{planner.max_bytes}"
                    )
                else:
                    chunk = planner.assign(request, size)
            if rule is not None:
                invalid.append(
                    LlmResult.failure(
                        request.custom_id,
                        ErrorInfo(code="invalid_request", message=rule),
                        provider=info.name,
                        mode=mode,
                    )
                )
            planned.append(PlannedRequest(request, chunk))
        now = time.time()
        chunks = [
            ChunkRecord(
                id=f"{job_id}-{plan.index}",
                job_id=job_id,
                index=plan.index,
                kind=plan.kind,
                model=plan.model,
                state=ChunkState.PLANNED,
                request_count=plan.count,
                byte_size=plan.size,
            )
            for plan in planner.plans()
        ]
        job = Job(
            id=job_id,
            provider=info.name,
            model=model or _single_model(accepted),
            mode=mode,
            status=JobStatus.PENDING,
            total=len(planned),
            created_at=now,
            updated_at=now,
            fingerprint=fingerprint,
            reason=reason,
        )
        await self._store.create_job(job, planned, chunks)
        if invalid:
            lease = await self._store.claim(job_id, self._owner)
            await self._store.save_results(lease, invalid)
        await self._bus.emit(job_id, ModeChosen, mode=mode, reason=reason)
        return job

    def _choose_mode(self, mode: Mode, count: int, provider: Provider) -> tuple[Mode, str]:
        info = provider.info
        if mode is Mode.BATCH and not info.batch:
            raise ValueError(f"{info.name} has no batch API; use mode realtime or auto")
        if mode is Mode.REALTIME and not info.realtime:
            raise ValueError(f"{info.name} has no realtime API; use mode batch or auto")
        if mode is not Mode.AUTO:
            return mode, f"{mode} mode was requested"
        threshold = self._options.batch_threshold
        if info.batch and (count >= threshold or not info.realtime):
            return Mode.BATCH, f"{count} requests >= batch threshold {threshold}"
        return Mode.REALTIME, f"{count} requests < batch threshold {threshold}"

    async def _start(self, job: Job, *, resumed: bool) -> Lease:
        lease = await self._store.claim(job.id, self._owner)
        if job.status is JobStatus.PENDING:
            await self._store.set_job_status(lease, JobStatus.RUNNING)
        await self._bus.emit(
            job.id,
            RunStarted,
            provider=job.provider,
            model=job.model,
            mode=job.mode,
            total=job.total,
            resumed=resumed,
        )
        return lease

    async def _drive(self, job: Job, *, resumed: bool) -> RunOutcome:
        lease = await self._start(job, resumed=resumed)
        if job.mode is Mode.BATCH:
            await self._batch_runner(job).run(lease, job)
        else:
            runner = RealtimeRunner(
                store=self._store,
                provider=self.provider(job.provider),
                bus=self._bus,
                options=self._options,
            )
            await runner.run(lease, job, self._store.pending_requests(job.id))
        await self._finish(lease, job)
        return await self._outcome(await self._job(job.id), resumed=resumed)

    async def _finish(self, lease: Lease, job: Job) -> None:
        current = await self._job(job.id)
        status = (
            JobStatus.CANCELLED if current.status is JobStatus.CANCELLING else JobStatus.COMPLETED
        )
        current = await self._store.set_job_status(lease, status)
        counts = await self._store.counts(job.id)
        await self._bus.emit(
            job.id,
            RunFinished,
            status=status,
            total=counts.total,
            succeeded=counts.succeeded,
            failed=counts.failed,
            duration_s=current.updated_at - current.created_at,
        )

    async def _outcome(self, job: Job, *, resumed: bool) -> RunOutcome:
        chunks = await self._store.chunks(job.id)
        return RunOutcome(
            job=job,
            counts=await self._store.counts(job.id),
            batches_submitted=sum(1 for c in chunks if c.batch_id is not None),
            duration_s=round(job.updated_at - job.created_at, 3),
            resumed=resumed,
        )

    def _batch_runner(self, job: Job) -> BatchRunner:
        return BatchRunner(
            store=self._store,
            provider=self.provider(job.provider),
            bus=self._bus,
            options=self._options,
        )

    async def _job(self, job_id: str) -> Job:
        job = await self._store.get_job(job_id)
        if job is None:
            raise LookupError(f"no job {job_id!r} in the store")
        return job


def _single_model(accepted: list[tuple[LlmRequest, str | None]]) -> str | None:
    models = {request.model for request, _ in accepted}
    return models.pop() if len(models) == 1 else None
