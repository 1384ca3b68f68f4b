"""A graph node's run is a run: on REST with its jobs, and on the WebSocket as one sequence.

The node here is the real infer-atoms plugin in an application served by a real server; the
feed is read with `ProgressClient` while the node runs, as a consumer outside the graph would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import get_args

import aiohttp
import msgspec
import pytest
from batchery.app import build_application
from batchery.client import ClientError, ProgressClient
from batchery.events import (
    BatchSubmitted,
    JobEvent,
    ModeChosen,
    NodeFinished,
    NodeStarted,
    RunEvent,
    RunFinished,
    RunStarted,
)
from batchery.server.app import create_app
from batchery.server.owners import acting_for
from batchery.server.serving import serve_in_background
from batchery.server.wire import EventLog
from batchery.service import BatchLlmService
from batchery.spi import EmulatorOptions
from batchery_openai.emulator import OpenAIEmulator

from .conftest import FAST, TOKENS, Served, bearer, server_config

ITEMS = [
    {"id": f"REQ-{n}", "text": f"A loan of {n + 1} books is due in {n + 7} days."}
    for n in range(24)
]


@pytest.fixture
async def served_nodes(tmp_path: Path) -> AsyncIterator[Served]:
    async with OpenAIEmulator(EmulatorOptions(time_scale=500.0, seed=7)) as emulator:
        app = await build_application(
            msgspec.structs.replace(FAST, store=str(tmp_path / "jobs.db")),
            only=["openai"],
            nodes=["infer-atoms"],
            provider_options={"openai": {"base_url": emulator.base_url, "api_key": "sk-test"}},
        )
        try:
            service = await app.get("batchery.service", BatchLlmService)
            config = server_config()
            async with serve_in_background(create_app(config, app)) as server:
                yield Served(app, service, server, config)
        finally:
            await app.close()


async def _follow(client: ProgressClient, run_id: str) -> list[RunEvent]:
    while True:
        try:
            return [event async for event in client.follow(run_id, after_seq=0)]
        except ClientError as refused:
            if "404" not in str(refused) and "not found" not in str(refused):
                raise
            await asyncio.sleep(0.02)


async def test_a_node_run_streams_its_own_and_its_jobs_events_in_one_sequence(
    served_nodes: Served,
) -> None:
    node = await served_nodes.app.get("infer-atoms.node")
    run_id = "graph-7-infer-atoms"
    async with ProgressClient(served_nodes.url, TOKENS["acme"], retry_delay_s=0.01) as client:
        with acting_for("acme"):
            call = asyncio.create_task(node({"items": ITEMS, "run_id": "graph-7"}))
        events = await asyncio.wait_for(_follow(client, run_id), timeout=60)
        update = await call
        snapshot = await client.node_run(run_id)

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.run_id == run_id for e in events)
    assert isinstance(events[0], NodeStarted)
    assert isinstance(events[-1], NodeFinished)
    [job_id] = update["infer_atoms_report"]["jobs"]
    inner = [e.event for e in events if isinstance(e, JobEvent)]
    job_log = [e async for e in _job_log(served_nodes, job_id)]
    assert [(e.run_id, e.seq) for e in inner] == [(e.run_id, e.seq) for e in job_log]
    assert {ModeChosen, RunStarted, BatchSubmitted} <= {type(e) for e in inner}
    assert isinstance(inner[-1], RunFinished)
    finished = events[-1]
    assert [m.job_id for m in finished.modes] == [job_id]
    assert finished.modes[0].mode == "batch"

    assert snapshot.node == "infer-atoms"
    assert snapshot.status == "completed"
    assert snapshot.state.jobs == (job_id,)
    assert snapshot.state.seq == events[-1].seq
    assert [job.run_id for job in snapshot.jobs] == [job_id]
    assert snapshot.jobs[0].state.status == "completed"


async def _job_log(served: Served, job_id: str) -> AsyncIterator[RunEvent]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{served.url}/api/runs/{job_id}/log", headers=bearer("acme")) as response,
    ):
        assert response.status == 200
        page = msgspec.json.decode(await response.read(), type=EventLog)
    for event in page.events:
        yield event


async def test_another_tenant_never_sees_a_node_run(served_nodes: Served) -> None:
    node = await served_nodes.app.get("infer-atoms.node")
    with acting_for("acme"):
        await node({"items": ITEMS[:3], "run_id": "graph-8"})
    async with aiohttp.ClientSession() as http:
        for path in ("/api/node-runs/graph-8-infer-atoms", "/api/runs/graph-8-infer-atoms/log"):
            async with http.get(served_nodes.url + path, headers=bearer("globex")) as response:
                assert response.status == 404, path
            async with http.get(served_nodes.url + path, headers=bearer("acme")) as response:
                assert response.status == 200, path


async def test_the_openapi_document_describes_every_event(served_nodes: Served) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{served_nodes.url}/schema/openapi.json") as response,
    ):
        document = await response.json()
    schemas = document["components"]["schemas"]

    for name in [*(t.__name__ for t in get_args(RunEvent)), "JobMode", "ModeEstimate"]:
        assert name in schemas, name
    assert {"/api/node-runs/{run_id}", "/api/runs/{run_id}/log"} <= set(document["paths"])
