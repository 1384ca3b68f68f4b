"""REST snapshots, results pages, cancel, tickets' shape, and the operator routes."""

from __future__ import annotations

import aiohttp
import msgspec
from batchery.model import Mode
from batchery.server.wire import ResultsPage, RunList, RunSnapshot

from .conftest import Served, bearer, start_run, synthetic_run


async def _get(served: Served, path: str, tenant: str = "acme") -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(served.url + path, headers=bearer(tenant)) as response,
    ):
        return response.status, await response.read()


async def test_a_finished_runs_snapshot_agrees_with_the_store(served: Served) -> None:
    run_id, task = await start_run(served.service, "acme", count=12)
    await task

    status, body = await _get(served, f"/api/runs/{run_id}")
    snapshot = msgspec.json.decode(body, type=RunSnapshot)

    assert status == 200
    assert snapshot.status == "completed"
    assert snapshot.counts.total == 12
    assert snapshot.counts.succeeded == 12
    state = snapshot.state
    assert (state.status, state.phase) == ("completed", "done")
    assert (state.completed, state.failed) == (12, 0)
    assert state.seq == (await served.service.store.events(run_id))[-1][0]
    assert state.batches == 1


async def test_results_come_in_pages_in_input_order(served: Served) -> None:
    run_id, task = await start_run(served.service, "acme", count=25)
    await task
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        status, body = await _get(served, f"/api/runs/{run_id}/results?offset={offset}&limit=10")
        assert status == 200
        page = msgspec.json.decode(body, type=ResultsPage)
        assert page.offset == offset
        seen += [result.custom_id for result in page.results]
        offset = page.next_offset
    assert seen == [f"r{n}" for n in range(25)]
    status, _ = await _get(served, f"/api/runs/{run_id}/results?limit=5000")
    assert status == 400


async def test_the_list_shows_the_callers_runs_newest_first(served: Served) -> None:
    older = await synthetic_run(served.service, "acme")
    newer = await synthetic_run(served.service, "acme")
    await synthetic_run(served.service, "globex")

    status, body = await _get(served, "/api/runs")

    assert status == 200
    assert [run.run_id for run in msgspec.json.decode(body, type=RunList).runs] == [newer, older]


async def test_cancel_stops_a_running_batch(served: Served) -> None:
    run_id, task = await start_run(served.service, "acme", count=10, mode=Mode.BATCH)
    async with (
        aiohttp.ClientSession() as session,
        session.post(served.url + f"/api/runs/{run_id}/cancel", headers=bearer("acme")) as response,
    ):
        assert response.status == 200
        snapshot = msgspec.json.decode(await response.read(), type=RunSnapshot)
    assert snapshot.run_id == run_id
    assert snapshot.status in ("cancelling", "cancelled", "completed")
    # The driver in this process is the one that stops the run: it ends it, never loses it.
    await task


async def test_health_metrics_schema_and_page(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(served.url + "/health") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok", "store": True, "channels": True}
        run_id = await synthetic_run(served.service, "acme")
        async with session.get(served.url + "/metrics") as response:
            text = await response.text()
            assert "batchery_events_published_total" in text
            assert "batchery_ws_connections" in text
            assert run_id not in text
        async with session.get(served.url + "/schema/openapi.json") as response:
            schema = await response.json()
            assert "/api/runs/{run_id}" in schema["paths"]
            assert "/api/ws-tickets" in schema["paths"]
            assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        async with session.get(served.url + "/") as response:
            assert response.status == 200
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert '<script src="/static/app.js"' in await response.text()
        async with session.get(served.url + "/static/app.js") as response:
            assert response.headers["Content-Type"].startswith("text/javascript")
