"""Two instances sharing a store and Redis: events and tickets reach every instance; without
Redis, followers still get every event, from the log.

Redis is at 127.0.0.1:6379 here and in CI, where the Redis test must run; elsewhere it skips
when no Redis answers.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import aiohttp
import pytest
from batchery.events import Progress, RunFinished
from batchery.server.wire import SUBPROTOCOL, TICKET_PREFIX, EventsFrame, decode_frame

from .conftest import ORIGIN, ServerFactory, bearer, synthetic_run

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not os.environ.get("CI") and not _redis_answers(),
    reason="no Redis at 127.0.0.1:6379 (CI runs this)",
)


@needs_redis
async def test_events_and_tickets_cross_instances(
    open_server: ServerFactory, tmp_path: Path
) -> None:
    shared = {
        "store": tmp_path / "jobs.db",
        "owners_path": str(tmp_path / "owners.db"),
        "redis_url": REDIS_URL,
    }
    async with (
        open_server(**shared) as first,
        open_server(**shared, poll_interval_s=60.0) as second,
    ):
        run_id = await synthetic_run(first.service, "acme", total=50)
        async with aiohttp.ClientSession() as session:
            async with session.post(
                first.url + "/api/ws-tickets", json={"run_id": run_id}, headers=bearer("acme")
            ) as response:
                ticket = (await response.json())["ticket"]
            async with session.get(second.url + "/health") as response:
                assert (await response.json())["channels"] is True
            async with session.ws_connect(
                second.ws_url(run_id),
                headers={"Origin": ORIGIN},
                protocols=(SUBPROTOCOL, TICKET_PREFIX + ticket),
            ) as ws:
                seqs: list[int] = []
                first_frame = decode_frame((await ws.receive(timeout=5)).data)
                assert isinstance(first_frame, EventsFrame)
                seqs += [e.seq for e in first_frame.events]
                assert seqs == [1, 2]
                for done in range(1, 51):
                    await first.service.bus.emit(
                        run_id, Progress, completed=done, failed=0, total=50, phase="realtime"
                    )
                await first.service.bus.emit(
                    run_id, RunFinished, status="completed", total=50, succeeded=50,
                    failed=0, duration_s=0.1,
                )  # fmt: skip
                async with asyncio.timeout(5):
                    async for message in ws:
                        frame = decode_frame(message.data)
                        assert isinstance(frame, EventsFrame)
                        seqs += [e.seq for e in frame.events]
                assert ws.close_code == 1000
        assert seqs == list(range(1, 54))


async def test_without_redis_followers_fall_back_to_the_log(open_server: ServerFactory) -> None:
    async with open_server(redis_url="redis://127.0.0.1:9/0", poll_interval_s=0.1) as served:
        run_id = await synthetic_run(served.service, "acme", total=20)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                served.ws_url(run_id), headers=bearer("acme"), protocols=(SUBPROTOCOL,)
            ) as ws,
        ):
            async with session.get(served.url + "/health") as response:
                assert response.status == 503
                assert (await response.json())["channels"] is False
            for done in range(1, 21):
                await served.service.bus.emit(
                    run_id, Progress, completed=done, failed=0, total=20, phase="realtime"
                )
            await served.service.bus.emit(
                run_id, RunFinished, status="completed", total=20, succeeded=20, failed=0,
                duration_s=0.1,
            )  # fmt: skip
            seqs: list[int] = []
            async with asyncio.timeout(10):
                async for message in ws:
                    frame = decode_frame(message.data)
                    assert isinstance(frame, EventsFrame)
                    seqs += [e.seq for e in frame.events]
            assert ws.close_code == 1000
        assert seqs == list(range(1, 24))
