"""REST snapshots: runs (a run is a job; its id is the job id), results, cancel, tickets.

Every route authenticates first (a guard, before any parameter or body is read) and acts for
the caller's tenant only: a run of another tenant is "not found", exactly like a run that does
not exist, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Annotated, Final

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_409_CONFLICT

from batchery.model import Job, LlmResult
from batchery.server.auth import Caller, authenticated
from batchery.server.node_runs import is_run
from batchery.server.owners import RunOwners
from batchery.server.snapshots import Snapshots
from batchery.server.submissions import submit_run
from batchery.server.tickets import Tickets
from batchery.server.wire import ResultsPage, RunList, RunSnapshot, Ticket, TicketRequest
from batchery.service import BatchLlmService, EndpointMismatchError, UnknownProviderError

__all__ = ["RunsController"]

_SCAN: Final = 500
"""Jobs read per list request before filtering by tenant (the store has no tenant column)."""


async def _owned(service: BatchLlmService, owners: RunOwners, caller: Caller, run_id: str) -> Job:
    job = await service.store.get_job(run_id)
    if job is None or not await owners.owns(caller.tenant, run_id):
        raise NotFoundException("not found")
    return job


class RunsController(Controller):
    path = "/api"
    guards = [authenticated]
    security = [{"bearer": []}]
    tags = ["runs"]

    submit_run = submit_run

    @get("/runs", summary="List the caller's runs, newest first")
    async def list_runs(
        self,
        caller: NamedDependency[Caller],
        service: NamedDependency[BatchLlmService],
        owners: NamedDependency[RunOwners],
        snapshots: NamedDependency[Snapshots],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> RunList:
        jobs = await service.store.list_jobs(limit=max(limit, _SCAN))
        mine = [job for job in jobs if await owners.owns(caller.tenant, job.id)][:limit]
        return RunList(runs=[await snapshots.of(job) for job in mine])

    @get("/runs/{run_id:str}", summary="One run: job row, outcomes, folded events and seq")
    async def get_run(
        self,
        run_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[BatchLlmService],
        owners: NamedDependency[RunOwners],
        snapshots: NamedDependency[Snapshots],
    ) -> RunSnapshot:
        return await snapshots.of(await _owned(service, owners, caller, run_id))

    @get("/runs/{run_id:str}/results", summary="A page of stored results, in input order")
    async def get_results(
        self,
        run_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[BatchLlmService],
        owners: NamedDependency[RunOwners],
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> ResultsPage:
        await _owned(service, owners, caller, run_id)
        results: list[LlmResult] = []
        more = False
        position = 0
        async for result in service.get_batch_results(run_id):
            if position >= offset + limit:
                more = True
                break
            if position >= offset:
                results.append(result)
            position += 1
        return ResultsPage(
            results=results, offset=offset, next_offset=offset + limit if more else None
        )

    @post("/runs/{run_id:str}/cancel", status_code=HTTP_200_OK, summary="Ask a run to stop")
    async def cancel_run(
        self,
        run_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[BatchLlmService],
        owners: NamedDependency[RunOwners],
        snapshots: NamedDependency[Snapshots],
    ) -> RunSnapshot:
        await _owned(service, owners, caller, run_id)
        try:
            job = await service.cancel_batch(run_id)
        except UnknownProviderError:
            raise ClientException(
                "this server does not load the run's provider", status_code=HTTP_409_CONFLICT
            ) from None
        except EndpointMismatchError as exc:
            raise ClientException(str(exc), status_code=HTTP_409_CONFLICT) from None
        return await snapshots.of(job)

    @post("/ws-tickets", status_code=HTTP_201_CREATED, summary="A single-use WebSocket ticket")
    async def issue_ticket(
        self,
        data: JSONBody[TicketRequest],
        caller: NamedDependency[Caller],
        service: NamedDependency[BatchLlmService],
        owners: NamedDependency[RunOwners],
        tickets: NamedDependency[Tickets],
    ) -> Ticket:
        if not await owners.owns(caller.tenant, data.run_id) or not await is_run(
            service.store, data.run_id
        ):
            raise NotFoundException("not found")
        return await tickets.issue(caller.tenant, data.run_id)
