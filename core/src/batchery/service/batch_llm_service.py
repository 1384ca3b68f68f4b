"""`BatchLlmService`: the one entry point for running a workload, from code, the CLI or a node."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping

from batchery.events import (
    FallbackStarted,
    ModeChosen,
    RunEvent,
    RunFinished,
    RunStarted,
    decode_event,
)
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
from batchery.service.batch_progress import BatchProgress
from batchery.service.batch_runner import BatchRunner
from batchery.service.lease_keeper import LeaseKeeper, Leases
from batchery.service.limiter import LimiterRegistry
from batchery.service.liveness import is_live, owner_name
from batchery.service.options import ServiceOptions
from batchery.service.planning import RunPlan, Sizing, plan_run, validate_items
from batchery.service.policy import PRIOR_LATENCY_S, batch_turnaround, realtime_seconds
from batchery.service.realtime_runner import RealtimeRunner
from batchery.service.reports import (
    EndpointMismatchError,
    JobReport,
    RunOutcome,
    UnknownProviderError,
)
from batchery.service.result_cache import answer_keys, cached_answers, remember_answers
from batchery.service.validation import Finding
from batchery.spi import ModelPrice, Provider
from batchery.store import ChunkRecord, JobHeldError, JobStore, PlannedRequest

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
        self._leases = Leases(
            store,
            bus,
            owner=owner_name(),
            lease_s=self._options.lease_s,
            heartbeat_s=self._options.heartbeat_s,
        )
        self._caller_reasks: set[str] = set()
        """Jobs whose caller asks again itself for answers that are not their schema's JSON."""

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

    def validate(
        self, requests: Items, *, provider: str | None = None, model: str | None = None
    ) -> list[Finding]:
        """The warnings about `requests` on the provider; nothing is stored or sent.

        Raises `InvalidInputError` naming every item that breaks a rule, as `run` would.
        """
        chosen = self.provider(provider)
        book = self.cost_book(chosen.info.name)
        return validate_items(requests, chosen, model, self._options, book).warnings

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
        book = self.cost_book(chosen.info.name)
        checked = validate_items(requests, chosen, model, self._options, book)
        keys = answer_keys(self.endpoint(chosen.info.name), checked.requests, checked.rules)
        cached = None
        if use_cache:
            cached = await cached_answers(self._store, checked.requests, keys, self._options)
        return plan_run(
            checked,
            provider=chosen,
            model=model,
            mode=mode,
            options=self._options,
            book=book,
            sizing=await self._sizing(chosen, model),
            cached=cached,
            cache_keys=keys,
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
        reask_invalid_json: bool = True,
        retry_failed: bool = False,
        new_run: bool = False,
        input_name: str | None = None,
        on_warnings: Callable[[list[Finding]], object] | None = None,
    ) -> RunOutcome:
        """Run a workload to the end and return its outcome; results stay in the store.

        With a `fingerprint`, a job made from the same input is picked up instead of starting
        again, so a run repeated by the caller never submits anything twice: an unfinished job
        resumes, and a finished one sends again exactly the requests that ended with a
        retryable error (every failed one with `retry_failed`); stored answers are kept.
        `new_run` starts a fresh job all the same. One job is made per fingerprint even when
        two processes start it at once; when another live process drives that job,
        `JobHeldError` says who, and `attach` follows it. `deadline_s` is how long the caller
        can wait, from now. `run_id` names the job, so a caller (a graph node, say) can tie its
        jobs' events to itself; `input_name` is the file the requests came from, if any. An
        answer that is not its schema's JSON is asked again once; `reask_invalid_json=False`
        ends it as `invalid_json` at once, for a caller that asks again in its own words.
        `on_warnings` hears what looked wrong but did not stop the run, before it is stored
        (a job picked up by its fingerprint was checked when it was made).
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
        if on_warnings is not None and plan.warnings:
            on_warnings(plan.warnings)
        job, created = await self._create(
            plan, fingerprint, deadline_s, run_id, input_name, replace=new_run
        )
        if not reask_invalid_json:
            self._caller_reasks.add(job.id)
        try:
            if not created:
                return await self.resume(job.id)
            return await self._drive(job, resumed=False)
        finally:
            self._caller_reasks.discard(job.id)

    async def resume(self, job_id: str) -> RunOutcome:
        """Drive an unfinished job to its end; `JobHeldError` when a live process drives it."""
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
        async with self._leases.held(job.id) as keeper:
            return await self._store.set_endpoint(keeper.lease, here)

    async def rerun(self, job_id: str, *, retry_failed: bool = False) -> RunOutcome:
        """Resume the job, or, when it finished, send its retryable failures again (every
        failure with `retry_failed`); a cancelled job stays as it is."""
        job = await self._job(job_id)
        if job.status is JobStatus.COMPLETED:
            self._check_endpoint(job)
            async with self._leases.held(job.id) as keeper:
                reopened = await self._store.reopen(keeper.lease, permanent=retry_failed)
            if reopened:
                job = await self._job(job_id)
        return await self.resume(job.id)

    async def attach(
        self, job_id: str, *, on_event: Callable[[RunEvent], object] | None = None
    ) -> RunOutcome:
        """Follow a job another process drives until it ends, handing each logged event to
        `on_event`. A live lease is never taken over; once the driver's lease has expired (it
        died or stalled, or its process is gone from this host) this process claims the job and
        drives it to the end itself."""
        after = 0
        finished = False
        while True:
            for seq, body in await self._store.events(job_id, after_seq=after):
                after = seq
                event = decode_event(body)
                finished = finished or isinstance(event, RunFinished)
                if on_event is not None:
                    on_event(event)
            job = await self._job(job_id)
            live = is_live(await self._store.holder(job_id))
            if job.status.terminal and (finished or not live):
                return await self._outcome(job, resumed=True)
            if not live and not job.status.terminal:
                try:
                    return await self._drive(job, resumed=True)
                except JobHeldError:
                    pass
            await asyncio.sleep(min(self._options.poll_interval_s, self._options.heartbeat_s))

    async def submit_batch(
        self,
        requests: Items,
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> Job:
        """Create a batch job and hand every chunk to the provider; returns without waiting."""
        plan = await self.plan(requests, provider=provider, model=model, mode=Mode.BATCH)
        job, _ = await self._create(plan, None, None)
        async with self._leases.held(job.id) as keeper:
            await self._start(keeper, job, resumed=False)
            await self._batch_runner(job, keeper).submit_all(keeper.lease, job)
        return await self._job(job.id)

    async def create(
        self,
        plan: RunPlan,
        *,
        fingerprint: str | None = None,
        deadline_s: float | None = None,
        input_name: str | None = None,
    ) -> Job:
        """Store the planned job without driving it, for a worker to drive later with `resume`;
        with a fingerprint another process got to first, that process's job."""
        job, _ = await self._create(plan, fingerprint, deadline_s, None, input_name)
        return job

    async def get_batch_status(self, job_id: str, *, refresh: bool = True) -> JobReport:
        """The job as stored; with `refresh`, first poll the provider once and collect (unless
        another process drives the job: then it is reported as that process left it)."""
        job = await self._job(job_id)
        if refresh and not job.status.terminal and job.mode is Mode.BATCH:
            try:
                async with self._leases.held(job.id) as keeper:
                    runner = self._batch_runner(job, keeper)
                    await runner.submit_all(keeper.lease, job)
                    if await runner.step(keeper.lease, job):
                        await self._finish_pending(keeper, job, runner)
                        await self._finish(keeper, job)
            except JobHeldError:
                pass
            job = await self._job(job_id)
        return JobReport(job, await self._store.counts(job_id), await self._store.chunks(job_id))

    def get_batch_results(self, job_id: str) -> AsyncIterator[LlmResult]:
        """Every result stored so far, in input order."""
        return self._store.results(job_id)

    async def cancel_batch(self, job_id: str) -> Job:
        """Ask the provider to stop; results it already produced are still collected.

        A job another live process drives gets a cancel request in the store instead: that
        driver sees it at its next heartbeat, stops its batches and marks the rest cancelled.
        """
        job = await self._job(job_id)
        if job.status.terminal:
            return job
        self._check_endpoint(job)
        try:
            async with self._leases.held(job.id) as keeper:
                return await self._cancel_held(keeper, job)
        except JobHeldError:
            await self._store.request_cancel(job_id)
            return await self._job(job_id)

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
        *,
        replace: bool = False,
    ) -> tuple[Job, bool]:
        """The job for the plan and whether it was made now; with a fingerprint that another
        process got to first, that process's job (and nothing stored)."""
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
        stored = await self._store.create_job(
            job,
            (
                PlannedRequest(r, c, cache_key=k)
                for r, c, k in zip(plan.requests, plan.chunk_of, plan.cache_keys, strict=True)
            ),
            chunks,
            replace=replace,
        )
        if stored.id != job.id:
            return stored, False
        if plan.ready:
            async with self._leases.held(job_id) as keeper:
                await self._store.save_results(keeper.lease, plan.ready.values())
        await self._bus.emit(
            job_id,
            ModeChosen,
            mode=plan.mode,
            reason=plan.decision.reason,
            estimates=plan.decision.estimates,
            cached=plan.cached,
        )
        return job, True

    async def _cancel_held(self, keeper: LeaseKeeper, job: Job) -> Job:
        """Stop the job this process holds: once it has been stopped, asking again does
        nothing (an attempt cut short is simply made again)."""
        keeper.cancel_requested.set()
        if keeper.cancelled:
            return await self._job(job.id)
        job = await self._store.set_job_status(
            keeper.lease, JobStatus.CANCELLING, reason="cancelled by request"
        )
        if job.mode in (Mode.BATCH, Mode.HYBRID):
            await self._batch_runner(job, keeper).cancel(keeper.lease, job)
        keeper.cancelled = True
        return job

    async def _cancel_when_asked(self, keeper: LeaseKeeper, job: Job) -> None:
        await keeper.cancel_requested.wait()
        await self._cancel_held(keeper, job)

    async def _start(self, keeper: LeaseKeeper, job: Job, *, resumed: bool) -> None:
        if job.status is JobStatus.PENDING:
            await self._store.set_job_status(keeper.lease, JobStatus.RUNNING)
        await self._bus.emit(
            job.id,
            RunStarted,
            provider=job.provider,
            model=job.model,
            mode=job.mode,
            total=job.total,
            resumed=resumed,
        )

    async def _drive(self, job: Job, *, resumed: bool) -> RunOutcome:
        if self._leases.drives(job.id):
            holder = await self._store.holder(job.id)
            assert holder is not None
            raise JobHeldError(job.id, holder)
        async with self._leases.held(job.id) as keeper:
            await self._start(keeper, job, resumed=resumed)
            return await self._drive_with(keeper, job, resumed=resumed)

    async def _drive_with(self, keeper: LeaseKeeper, job: Job, *, resumed: bool) -> RunOutcome:
        lease = keeper.lease
        observed = (
            []
            if job.endpoint is None
            else await self._store.history.turnarounds(job.endpoint, job.model)
        )
        chunks = await self._store.chunks(job.id)
        largest = max((c.request_count for c in chunks), default=job.total)
        runner = self._batch_runner(job, keeper, turnaround_s=batch_turnaround(observed, largest))
        async with task_group() as watching:
            watcher = watching.create_task(self._cancel_when_asked(keeper, job))
            try:
                async with task_group() as group:
                    if job.mode in (Mode.BATCH, Mode.HYBRID):
                        group.create_task(runner.run(lease, job))
                    if job.mode in (Mode.REALTIME, Mode.HYBRID):
                        group.create_task(
                            self._realtime_runner(job, keeper, runner.progress).run(
                                lease, job, self._store.pending_requests(job.id, chunked=False)
                            )
                        )
            finally:
                watcher.cancel()
        await self._finish_pending(keeper, job, runner)
        await self._finish(keeper, job)
        return await self._outcome(await self._job(job.id), resumed=resumed)

    async def _finish_pending(self, keeper: LeaseKeeper, job: Job, runner: BatchRunner) -> None:
        """Finish in realtime whatever the batch left undone, unless the job was cancelled
        (before or during that realtime pass): then what is left ends as cancelled."""
        lease = keeper.lease
        counts = await self._store.counts(job.id)
        left = counts.total - counts.finished
        if left == 0:
            return
        asked = keeper.cancel_requested
        if not asked.is_set() and (await self._job(job.id)).status is not JobStatus.CANCELLING:
            await self._fall_back(keeper, job, runner, left)
            if not asked.is_set():
                return
        if asked.is_set():
            await self._cancel_held(keeper, job)
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

    async def _fall_back(
        self, keeper: LeaseKeeper, job: Job, runner: BatchRunner, left: int
    ) -> None:
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
        realtime = self._realtime_runner(
            job, keeper, runner.progress, asked_again=frozenset(runner.asked_again)
        )
        await realtime.run(keeper.lease, job, self._store.pending_requests(job.id))

    async def _finish(self, keeper: LeaseKeeper, job: Job) -> None:
        lease = keeper.lease
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

    def _batch_runner(
        self, job: Job, keeper: LeaseKeeper, *, turnaround_s: float | None = None
    ) -> BatchRunner:
        provider = self.provider(job.provider)
        limiter = self._limiters.limiter(provider, job.model)

        def estimate(count: int) -> float:
            return realtime_seconds(
                count,
                concurrency=self._options.realtime_concurrency,
                latency_s=limiter.cautious_latency_s or max(PRIOR_LATENCY_S.values()),
                requests_per_s=limiter.requests_per_s,
            )

        return BatchRunner(
            store=self._store,
            keeper=keeper,
            provider=provider,
            bus=self._bus,
            options=self._options,
            book=self.cost_book(job.provider),
            realtime_seconds=estimate,
            turnaround_s=turnaround_s,
            reask_invalid=job.id not in self._caller_reasks,
        )

    def _realtime_runner(
        self,
        job: Job,
        keeper: LeaseKeeper,
        progress: BatchProgress | None = None,
        asked_again: frozenset[str] = frozenset(),
    ) -> RealtimeRunner:
        return RealtimeRunner(
            store=self._store,
            keeper=keeper,
            provider=self.provider(job.provider),
            bus=self._bus,
            options=self._options,
            limiters=self._limiters,
            book=self.cost_book(job.provider),
            progress=progress,
            asked_again=asked_again,
            reask_invalid=job.id not in self._caller_reasks,
        )

    async def _job(self, job_id: str) -> Job:
        job = await self._store.get_job(job_id)
        if job is None:
            raise LookupError(f"no job {job_id!r} in the store")
        return job
