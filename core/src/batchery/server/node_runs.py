"""Node runs over REST, and any run's event log.

A graph node's run has no job row: it is its events in the store's log, `NodeStarted` first,
with each of its jobs' events repeated in it as a `JobEvent`. Its snapshot is that log folded,
beside a snapshot of every job it started. The event log itself is readable page by page for
jobs and nodes alike, which is also what puts every event's schema in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from batchery.events import NodeStarted, decode_event
from batchery.server.auth import Caller
from batchery.server.owners import RunOwners
from batchery.server.snapshots import Snapshots
from batchery.server.wire import EventLog, NodeRunSnapshot
from batchery.service import BatchLlmService
from batchery.store import JobStore

__all__ = ["NodeRunsController", "is_node_run", "is_run"]


async def is_node_run(store: JobStore, run_id: str) -> bool:
    """Whether `run_id` names a node run: its log starts with `NodeStarted`."""
    rows = await store.events(run_id)
    return bool(rows) and isinstance(decode_event(rows[0][1]), NodeStarted)


async def is_run(store: JobStore, run_id: str) -> bool:
    """Whether `run_id` names a job or a node run, either of which can be followed."""
    return await store.get_job(run_id) is not None or await is_node_run(store, run_id)


class NodeRunsController(Controller):
    path = "/api"
    security = [{"bearer": []}]
    tags = ["runs"]

    @get("/node-runs/{run_id:str}", summary="A graph node's run: its state and its jobs")
    async def get_node_run(
        self,
        run_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[BatchLlmService],
        owners: NamedDependency[RunOwners],
        snapshots: NamedDependency[Snapshots],
    ) -> NodeRunSnapshot:
        if not await owners.owns(caller.tenant, run_id):
            raise NotFoundException("not found")
        state = await snapshots.state(run_id)
        if state.node is None:
            raise NotFoundException("not found")
        jobs = [
            await snapshots.of(job)
            for job_id in state.jobs
            if (job := await service.store.get_job(job_id)) is not None
            and await owners.owns(caller.tenant, job_id)
        ]
        return NodeRunSnapshot(
            run_id=run_id, node=state.node, status=state.status, state=state, jobs=jobs
        )

    @get("/runs/{run_id:str}/log", summary="A page of a run's event log, after `after_seq`")
    async def get_log(
        self,
        run_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[BatchLlmService],
        owners: NamedDependency[RunOwners],
        after_seq: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
    ) -> EventLog:
        if not await owners.owns(caller.tenant, run_id) or not await is_run(service.store, run_id):
            raise NotFoundException("not found")
        rows = await service.store.events(run_id, after_seq=after_seq)
        page = rows[:limit]
        return EventLog(
            run_id=run_id,
            events=[decode_event(body) for _, body in page],
            next_after_seq=page[-1][0] if len(rows) > limit else None,
        )
