"""`batchery.client`: typed events, reconnects and resyncs by itself, ends equal to REST."""

from __future__ import annotations

import asyncio

import pytest
from batchery.client import FeedRefusedError, ProgressClient
from batchery.events import Progress, RunEvent, RunFinished
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .conftest import TOKENS, Served, ServerFactory, start_run, synthetic_run


async def _emit(served: Served, run_id: str, count: int, pause_every: int = 5) -> None:
    bus = served.service.bus
    for done in range(1, count + 1):
        await bus.emit(run_id, Progress, completed=done, failed=0, total=count, phase="realtime")
        if done % pause_every == 0:
            await asyncio.sleep(0.005)
    await bus.emit(
        run_id, RunFinished, status="completed", total=count, succeeded=count, failed=0,
        duration_s=1.0,
    )  # fmt: skip


def _drop_sockets(served: Served) -> int:
    """Cut every progress socket at the server, as a network failure would."""
    dropped = 0
    for connection in list(served.server.server.server_state.connections):
        if isinstance(connection, WebSocketsSansIOProtocol):
            connection.transport.abort()
            dropped += 1
    return dropped


async def test_a_client_cut_off_mid_run_ends_equal_to_the_snapshot(served: Served) -> None:
    run_id = await synthetic_run(served.service, "acme", total=200)
    seen: list[RunEvent] = []
    async with ProgressClient(served.url, TOKENS["acme"], retry_delay_s=0.01) as client:
        start = (await client.snapshot(run_id)).state
        emitter = asyncio.create_task(_emit(served, run_id, 200))
        async for event in client.follow(run_id, state=start):
            seen.append(event)
            if len(seen) in (40, 120):
                assert _drop_sockets(served) == 1
        await emitter
        snapshot = await client.snapshot(run_id)

    assert [e.seq for e in seen] == list(range(start.seq + 1, snapshot.state.seq + 1))
    assert isinstance(seen[-1], RunFinished)
    assert client.last_state(run_id) == snapshot.state
    assert snapshot.state.completed == 200


async def test_a_slow_client_resyncs_by_itself(open_server: ServerFactory) -> None:
    async with open_server(ring_size=8, max_frame_events=4) as served:
        run_id = await synthetic_run(served.service, "acme", total=150)
        seen: list[int] = []
        async with ProgressClient(served.url, TOKENS["acme"], retry_delay_s=0.01) as client:
            emitter = asyncio.create_task(_emit(served, run_id, 150, pause_every=50))
            async for event in client.follow(run_id, after_seq=0):
                seen.append(event.seq)
                if len(seen) < 30:
                    await asyncio.sleep(0.01)
            await emitter
            snapshot = await client.snapshot(run_id)
        assert seen == list(range(1, snapshot.state.seq + 1))
        assert client.last_state(run_id) == snapshot.state


async def test_a_real_run_followed_by_the_client_matches_its_snapshot(served: Served) -> None:
    run_id, task = await start_run(served.service, "acme", count=20)
    async with ProgressClient(served.url, TOKENS["acme"]) as client:
        events = [event async for event in client.follow(run_id, after_seq=0)]
        await task
        snapshot = await client.snapshot(run_id)
        results = [result.custom_id async for result in client.results(run_id, page_size=7)]
    assert isinstance(events[-1], RunFinished)
    assert client.last_state(run_id) == snapshot.state
    assert results == [f"r{n}" for n in range(20)]


async def test_refusals_are_raised_not_retried(served: Served) -> None:
    theirs = await synthetic_run(served.service, "globex")
    async with ProgressClient(served.url, TOKENS["acme"]) as client:
        with pytest.raises(FeedRefusedError) as refused:
            async for _ in client.follow(theirs, after_seq=0):
                pass
    assert refused.value.status == 404
    assert TOKENS["acme"] not in repr(client)
    assert TOKENS["acme"] not in str(refused.value)
