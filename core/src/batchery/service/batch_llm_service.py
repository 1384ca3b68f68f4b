"""`BatchLlmService`: the one entry point for running a workload, from code, the CLI or a node."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping

from batchery.events import FallbackStarted, ModeChosen, RunFinished, RunStarted
from batchery.model import (
    ChunkState,
    Endpoint,
    ErrorInfo,
    Job,
    JobStatus,
    LlmRequest,
    LlmResult,
    Mode,
    RejectedRequest,
)
from batchery.pricing import CostBook
from batchery.progress import ProgressBus
from batchery.service._tasks import task_group
from batchery.service.batch_runner import BatchRunner
from batchery.service.limiter import LimiterRegistry
from batchery.service.options import ServiceOptions
from batchery.service.planning import RunPlan, Sizing, plan_run
from batchery.service.policy import PRIOR_LATENCY_S, batch_turnaround, realtime_seconds
from batchery.service.realtime_runner import RealtimeRunner
from batchery.service.reports import (
    EndpointMismatchError,
    JobReport,
    RunOutcome,
    UnknownProviderError,
)
from batchery.service.result_cache import cached_answers, remember_answers
from batchery.spi import ModelPrice, Provider
from batchery.store import ChunkRecord, JobStore, Lease, PlannedRequest

__all__ = ["BatchLlmService"]

Items = Iterable[LlmRequest | RejectedRequest]


class BatchLlmService:
    """Runs workloads on the installed providers and keeps every step in the job store."""

    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        store: JobStore,
        bus: ProgressBus,
        options: ServiceOptions | None = None,
        limiters: LimiterRegistry | None = None,
        prices: Mapping[str, Mapping[str, ModelPrice]] | None = None,
        endpoints: Mapping[str, Endpoint] | None = None,
    ) -> None:
        """`endpoints` says where each provider is reached (see `batchery.endpoints`); one not
        named is taken as the provider's public host."""
        self._providers = providers
        self._endpoints = endpoints or {}
        self._store = store
        self._bus = bus
        self._options = options or ServiceOptions()
        self._limiters = limiters or LimiterRegistry()
        self._prices = prices or {}
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._driving: dict[str, Lease] = {}

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

    def endpoint(self, provider: str | None = None) -> Endpoint:
        """Where `provider` is reached: what its answers, history and spend are kept under."""
        name = self.provider(provider).info.name
        return self._endpoints.get(name) or Endpoint(provider=name)

    def cost_book(self, provider: str) -> CostBook:
        return CostBook(self.provider(provider).info, self._prices.get(provider))

    async def plan(
        self,
        requests: Items,
        *,
        provider: str | None = None,
        model: str | None = None,
        mode: Mode = Mode.AUTO,
        deadline_s: float | None = None,
        use_cache: bool = True,
    ) -> RunPlan:
        """What `run` would do, with each mode's estimated cost and finish; nothing is sent."""
        chosen = self.provider(provider)
        items = list(requests)
        cached = None
        if use_cache:
            endpoint = self.endpoint(chosen.info.name)
            cached = await cached_answers(
                self._store, chosen, endpoint, items, model, self._options
            )
        return plan_run(
            items,
            provider=chosen,
            model=model,
            mode=mode,
            options=self._options,
            book=self.cost_book(chosen.info.name),
            sizing=await self._sizing(chosen, model),
            cached=cached,
            deadline_s=deadline_s,
        )

    async def run(
        self,
        requests: Items,
        *,
        provider: str | None = None,
        model: str | None = None,
        mode: Mode = Mode.AUTO,
        fingerprint: str | None = None,
        deadline_s: float | None = None,
        use_cache: bool = True,
        run_id: str | None = None,
        retry_failed: bool = False,
        new_run: bool = False,
        input_name: str | None = None,
    ) -> RunOutcome:
        """Run a workload to the end and return its outcome; results stay in the store.

        With a `fingerprint`, a job made from the same input is picked up instead of starting
        again, so a run repeated by the caller never submits anything twice: an unfinished job
        resumes, and a finished one sends again exactly the requests that ended with a
        retryable error (every failed one with `retry_failed`); stored answers are kept.
        `new_run` starts a fresh job all the same. `deadline_s` is how long the caller can
        wait, from now. `run_id` names the job, so a caller (a graph node, say) can tie its
        jobs' events to itself; `input_name` is the file the requests came from, if any.
        """
        if fingerprint is not None and not new_run:
            existing = await self._store.find_job(fingerprint)
            if existing is not None:
                return await self.rerun(existing.id, retry_failed=retry_failed)
        plan = await self.plan(
            requests,
            provider=provider,
            model=model,
            mode=mode,
            deadline_s=deadline_s,
            use_cache=use_cache,
        )
        job = await self._create(plan, fingerprint, deadline_s, run_id, input_name)
        return await self._drive(job, resumed=False)

    async def resume(self, job_id: str) -> RunOutcome:
        job = await self._job(job_id)
        if job.status.terminal:
            return await self._outcome(job, resumed=True)
        self._check_endpoint(job)
        return await self._drive(await self._learn_emulator(job), resumed=True)

    def _check_endpoint(self, job: Job) -> None:
        """Refuse to send a job's requests anywhere but the endpoint it was created for."""
        here = self.endpoint(job.provider)
        there = job.endpoint
        if there is not None and (there.provider, there.base_url) != (here.provider, here.base_url):
            raise EndpointMismatchError(job, here.shown)

    async def _learn_emulator(self, job: Job) -> Job:
        """Mark the job's endpoint emulated when an emulator answers there now (it was down
        when the job was created); never the reverse, since a silent emulator proves nothing."""
        here = self.endpoint(job.provider)
        if job.endpoint is None or not here.emulated or job.endpoint.emulated:
            return job
        return await self._store.set_endpoint(await self._lease(job.id), here)

    async def rerun(self, job_id: str, *, retry_failed: bool = False) -> RunOutcome:
        """Resume the job, or, when it finished, send its retryable failures again (every
        failure with `retry_failed`); a cancelled job stays as it is."""
        job = await self._job(job_id)
        if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
            self._check_endpoint(job)
            lease = await self._store.claim(job.id, self._owner)
            if await self._store.reopen(lease, permanent=retry_failed):
                job = await self._job(job_id)
        return await self.resume(job.id)

    async def submit_batch(
        self,
        requests: Items,
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> Job:
        """Create a batch job and hand every chunk to the provider; returns without waiting."""
        plan = await self.plan(requests, provider=provider, model=model, mode=Mode.BATCH)
        job = await self._create(plan, None, None)
        lease = await self._start(job, resumed=False)
        await self._batch_runner(job).submit_all(lease, job)
        return await self._job(job.id)

    async def get_batch_status(self, job_id: str, *, refresh: bool = True) -> JobReport:
        """The job as stored; with `refresh`, first poll the provider once and collect."""
        job = await self._job(job_id)
        if refresh and not job.status.terminal and job.mode is Mode.BATCH:
            lease = await self._lease(job.id)
            runner = self._batch_runner(job)
            await runner.submit_all(lease, job)
            if await runner.step(lease, job):
                await self._finish_pending(lease, job, runner)
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
        self._check_endpoint(job)
        lease = await self._lease(job.id)
        job = await self._store.set_job_status(
            lease, JobStatus.CANCELLING, reason="cancelled by request"
        )
        if job.mode in (Mode.BATCH, Mode.HYBRID):
            await self._batch_runner(job).cancel(lease, job)
        return job

    async def submit_and_wait(
        self,
        requests: Items,
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> list[LlmResult]:
        outcome = await self.run(requests, provider=provider, model=model, mode=Mode.BATCH)
        return [r async for r in self._store.results(outcome.job.id)]

    async def _sizing(self, provider: Provider, model: str | None) -> Sizing:
        model = model or next(iter(provider.info.default_models.values()), None)
        limiter = self._limiters.limiter(provider, model)
        observed = await self._store.history.turnarounds(self.endpoint(provider.info.name), model)
        return Sizing(
            turnarounds=observed,
            latency_s=limiter.latency_s,
            requests_per_s=limiter.requests_per_s,
        )

    async def _create(
        self,
        plan: RunPlan,
        fingerprint: str | None,
        deadline_s: float | None,
        run_id: str | None = None,
        input_name: str | None = None,
    ) -> Job:
        now = time.time()
        job_id = run_id or f"run_{uuid.uuid4().hex[:16]}"
        chunks = [
            ChunkRecord(
                id=f"{job_id}-{c.index}",
                job_id=job_id,
                index=c.index,
                kind=c.kind,
                model=c.model,
                state=ChunkState.PLANNED,
                request_count=c.count,
                byte_size=c.size,
            )
            for c in plan.chunks
        ]
        job = Job(
            id=job_id,
            provider=plan.provider,
            model=plan.model,
            mode=plan.mode,
            status=JobStatus.PENDING,
            total=len(plan.requests),
            created_at=now,
            updated_at=now,
            fingerprint=fingerprint,
            reason=plan.decision.reason,
            deadline_at=None if deadline_s is None else now + deadline_s,
            endpoint=self.endpoint(plan.provider),
            input_name=input_name,
        )
        await self._store.create_job(
            job,
            [PlannedRequest(r, c) for r, c in zip(plan.requests, plan.chunk_of, strict=True)],
            chunks,
        )
        if plan.ready:
            lease = await self._store.claim(job_id, self._owner)
            await self._store.save_results(lease, plan.ready.values())
        await self._bus.emit(
            job_id,
            ModeChosen,
            mode=plan.mode,
            reason=plan.decision.reason,
            estimates=plan.decision.estimates,
            cached=plan.cached,
        )
        return job

    async def _lease(self, job_id: str) -> Lease:
        """The lease this service already holds while driving the job, else a fresh claim.

        Claiming again from the process that drives the job would fence its own driver out.
        """
        return self._driving.get(job_id) or await self._store.claim(job_id, self._owner)

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
        self._driving[job.id] = lease
        try:
            return await self._drive_with(lease, job, resumed=resumed)
        finally:
            del self._driving[job.id]

    async def _drive_with(self, lease: Lease, job: Job, *, resumed: bool) -> RunOutcome:
        observed = (
            []
            if job.endpoint is None
            else await self._store.history.turnarounds(job.endpoint, job.model)
        )
        chunks = await self._store.chunks(job.id)
        largest = max((c.request_count for c in chunks), default=job.total)
        runner = self._batch_runner(job, turnaround_s=batch_turnaround(observed, largest))
        async with task_group() as group:
            if job.mode in (Mode.BATCH, Mode.HYBRID):
                group.create_task(runner.run(lease, job))
            if job.mode in (Mode.REALTIME, Mode.HYBRID):
                group.create_task(
                    self._realtime_runner(job).run(
                        lease, job, self._store.pending_requests(job.id, chunked=False)
                    )
                )
        await self._finish_pending(lease, job, runner)
        await self._finish(lease, job)
        return await self._outcome(await self._job(job.id), resumed=resumed)

    async def _finish_pending(self, lease: Lease, job: Job, runner: BatchRunner) -> None:
        """Finish in realtime whatever the batch left undone, unless the job was cancelled."""
        counts = await self._store.counts(job.id)
        left = counts.total - counts.finished
        if left == 0:
            return
        if (await self._job(job.id)).status is JobStatus.CANCELLING:
            error = ErrorInfo(
                code="cancelled", message="the job was cancelled before this request was done"
            )
            await self._store.save_results(
                lease,
                [
                    LlmResult.failure(r.custom_id, error, provider=job.provider, mode=job.mode)
                    async for r in self._store.pending_requests(job.id)
                ],
            )
            return
        if not runner.fell_back:
            states = sorted(
                {
                    str(c.batch_status or c.state)
                    for c in await self._store.chunks(job.id)
                    if c.state is not ChunkState.PLANNED
                }
            )
            await self._bus.emit(
                job.id,
                FallbackStarted,
                count=left,
                reason=f"{left} requests were not finished by the batch ({', '.join(states)})",
            )
        await self._realtime_runner(job).run(lease, job, self._store.pending_requests(job.id))

    async def _finish(self, lease: Lease, job: Job) -> None:
        current = await self._job(job.id)
        status = (
            JobStatus.CANCELLED if current.status is JobStatus.CANCELLING else JobStatus.COMPLETED
        )
        current = await self._store.set_job_status(lease, status)
        await remember_answers(self._store, job)
        counts = await self._store.counts(job.id)
        await self._bus.emit(
            job.id,
            RunFinished,
            status=status,
            total=counts.total,
            succeeded=counts.succeeded,
            failed=counts.failed,
            duration_s=current.updated_at - current.created_at,
            cost_usd=counts.cost_usd,
            realtime_cost_usd=counts.realtime_cost_usd,
            savings_usd=counts.savings_usd,
            cached=counts.cached,
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

    def _batch_runner(self, job: Job, *, turnaround_s: float | None = None) -> BatchRunner:
        provider = self.provider(job.provider)
        limiter = self._limiters.limiter(provider, job.model)

        def estimate(count: int) -> float:
            return realtime_seconds(
                count,
                concurrency=self._options.realtime_concurrency,
                latency_s=limiter.latency_s or max(PRIOR_LATENCY_S.values()),
                requests_per_s=limiter.requests_per_s,
            )

        return BatchRunner(
            store=self._store,
            provider=provider,
            bus=self._bus,
            options=self._options,
            book=self.cost_book(job.provider),
            realtime_seconds=estimate,
            turnaround_s=turnaround_s,
        )

    def _realtime_runner(self, job: Job) -> RealtimeRunner:
        return RealtimeRunner(
            store=self._store,
            provider=self.provider(job.provider),
            bus=self._bus,
            options=self._options,
            limiters=self._limiters,
            book=self.cost_book(job.provider),
        )

    async def _job(self, job_id: str) -> Job:
        job = await self._store.get_job(job_id)
        if job is None:
            raise LookupError(f"no job {job_id!r} in the store")
        return job
