"""The WebSocket feed delivers every event of a run once, in `seq` order, and ends cleanly."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import msgspec
from batchery.events import Progress, RunEvent, RunFinished, decode_event
from batchery.server.wire import SUBPROTOCOL, EventsFrame, ResyncFrame, decode_frame

from .conftest import Served, ServerFactory, bearer, start_run, synthetic_run


async def _read(
    served: Served, run_id: str, *, after_seq: int = 0, tenant: str = "acme"
) -> tuple[list[RunEvent], list[ResyncFrame], int | None]:
    """Everything one socket receives until the server closes it."""
    events: list[RunEvent] = []
    resyncs: list[ResyncFrame] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            served.ws_url(run_id),
            params={"after_seq": str(after_seq)},
            headers=bearer(tenant),
            protocols=(SUBPROTOCOL,),
        ) as socket,
    ):
        assert socket.protocol == SUBPROTOCOL
        async for message in socket:
            frame = decode_frame(message.data)
            if isinstance(frame, EventsFrame):
                events.extend(frame.events)
            else:
                resyncs.append(frame)
        return events, resyncs, socket.close_code


async def _progress(served: Served, run_id: str, done: int, total: int = 100) -> None:
    await served.service.bus.emit(
        run_id, Progress, completed=done, failed=0, total=total, phase="in_progress"
    )


async def _finish(served: Served, run_id: str, total: int = 100) -> None:
    await served.service.bus.emit(
        run_id, RunFinished, status="completed", total=total, succeeded=total, failed=0,
        duration_s=1.0,
    )  # fmt: skip


async def test_a_real_run_arrives_in_seq_order_ending_with_run_finished(served: Served) -> None:
    run_id, task = await start_run(served.service, "acme", count=40)
    events, resyncs, code = await asyncio.wait_for(_read(served, run_id), timeout=30)
    await task

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[-1], RunFinished)
    assert events[-1].succeeded == 40
    assert {e.run_id for e in events} == {run_id}
    assert resyncs == []
    assert code == 1000
    logged = [seq for seq, _ in await served.service.store.events(run_id)]
    assert [e.seq for e in events] == logged


async def test_replay_starts_after_the_given_seq(served: Served) -> None:
    run_id, task = await start_run(served.service, "acme", count=10)
    await task

    events, _, code = await _read(served, run_id, after_seq=2)

    assert events[0].seq == 3
    assert [e.seq for e in events] == list(range(3, events[-1].seq + 1))
    assert isinstance(events[-1], RunFinished)
    assert code == 1000


async def test_following_a_finished_run_from_its_end_closes_at_once(served: Served) -> None:
    run_id, task = await start_run(served.service, "acme", count=5)
    await task
    last = (await served.service.store.events(run_id))[-1][0]

    events, _, code = await asyncio.wait_for(_read(served, run_id, after_seq=last), timeout=5)

    assert events == []
    assert code == 1000


async def test_live_events_follow_the_replay_without_gaps_or_repeats(served: Served) -> None:
    run_id = await synthetic_run(served.service, "acme")
    reader = asyncio.create_task(_read(served, run_id))
    for done in range(1, 101):
        await _progress(served, run_id, done)
        if done % 10 == 0:
            await asyncio.sleep(0.01)
    await _finish(served, run_id)
    events, _, code = await asyncio.wait_for(reader, timeout=10)

    assert [e.seq for e in events] == list(range(1, 104))
    assert code == 1000


async def test_an_event_the_channel_never_carried_is_read_from_the_log(served: Served) -> None:
    run_id = await synthetic_run(served.service, "acme")
    reader = asyncio.create_task(_read(served, run_id))
    await _progress(served, run_id, 1)
    await asyncio.sleep(0.1)
    body = msgspec.json.encode(
        Progress(run_id=run_id, seq=4, ts=time.time(), completed=2, failed=0, total=100,
                 phase="in_progress")
    )  # fmt: skip
    await served.service.store.append_event(run_id, lambda seq: body)
    await _progress(served, run_id, 3)
    await _finish(served, run_id)
    events, _, _ = await asyncio.wait_for(reader, timeout=10)

    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert isinstance(events[3], Progress)
    assert events[3].completed == 2


async def test_a_run_driven_elsewhere_is_followed_through_its_log(served: Served) -> None:
    run_id = await synthetic_run(served.service, "acme", total=3)
    reader = asyncio.create_task(_read(served, run_id))
    await asyncio.sleep(0.1)
    store = served.service.store
    for seq, event in enumerate(
        [
            Progress(run_id=run_id, seq=3, ts=time.time(), completed=3, failed=0, total=3,
                     phase="realtime"),
            RunFinished(run_id=run_id, seq=4, ts=time.time(), status="completed", total=3,
                        succeeded=3, failed=0, duration_s=0.5),
        ],
        start=3,
    ):  # fmt: skip
        await store.append_event(run_id, lambda _, e=event: msgspec.json.encode(e))
        assert (await store.events(run_id, after_seq=seq - 1))[0][0] == seq
    events, _, code = await asyncio.wait_for(reader, timeout=5)

    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert code == 1000


async def test_a_slow_reader_is_told_where_to_resync_and_closed(
    open_server: ServerFactory,
) -> None:
    async with open_server(ring_size=8, max_frame_events=4, flush_interval_s=0.05) as served:
        run_id = await synthetic_run(served.service, "acme")
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                served.ws_url(run_id), headers=bearer("acme"), protocols=(SUBPROTOCOL,)
            ) as socket,
        ):
            first = decode_frame((await socket.receive(timeout=5)).data)
            assert isinstance(first, EventsFrame)
            for done in range(1, 60):
                await _progress(served, run_id, done)
            frames = [decode_frame(m.data) async for m in socket]
            code = socket.close_code

    received = first.events + [e for f in frames if isinstance(f, EventsFrame) for e in f.events]
    resync = frames[-1]
    assert isinstance(resync, ResyncFrame)
    assert resync.reason == "slow_consumer"
    assert resync.after_seq == received[-1].seq
    assert [e.seq for e in received] == list(range(1, len(received) + 1))
    assert code == 1013


async def test_a_client_that_speaks_is_closed_with_1008(served: Served) -> None:
    run_id = await synthetic_run(served.service, "acme")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            served.ws_url(run_id), headers=bearer("acme"), protocols=(SUBPROTOCOL,)
        ) as socket,
    ):
        await socket.receive(timeout=5)
        await socket.send_str("hello")
        closing = await socket.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert socket.close_code == 1008


async def test_an_oversized_message_is_refused_with_1009(served: Served) -> None:
    run_id = await synthetic_run(served.service, "acme")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            served.ws_url(run_id), headers=bearer("acme"), protocols=(SUBPROTOCOL,)
        ) as socket,
    ):
        await socket.receive(timeout=5)
        await socket.send_bytes(b"x" * (1024 * 1024))
        closing = await socket.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert socket.close_code == 1009


def test_events_decode_as_the_union_the_feed_sends() -> None:
    event = Progress(run_id="r", seq=1, ts=0.0, completed=1, failed=0, total=2, phase="realtime")
    assert decode_event(msgspec.json.encode(event)) == event
