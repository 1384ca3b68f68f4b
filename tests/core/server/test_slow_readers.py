"""Readers that stop reading: what waits for them is bounded in bytes, they are closed with 1013
(which reaches them once they read again), and a peer that never reads again is cut off so its
memory is released."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from batchery.events import ItemRetried
from batchery.server import serving
from batchery.server.feed import FrameBudget, frames_of
from batchery.server.wire import SUBPROTOCOL, EventsFrame, decode_frame

from .conftest import TOKENS, Served, ServerFactory, bearer, synthetic_run

BENCH = Path(__file__).parents[3] / "bench" / "ws_slow_readers.py"
SMALL_BUFFER = 4096


def _body(seq: int, pad: int) -> bytes:
    return f'{{"type":"progress","seq":{seq},"pad":"{"x" * pad}"}}'.encode()


def test_a_frame_stops_at_its_byte_budget_but_always_holds_one_event() -> None:
    rows = [(n, _body(n, pad)) for n, pad in enumerate((10, 10, 10, 500, 10, 10), start=1)]
    budget = FrameBudget(max_events=10, max_bytes=2 * len(rows[0][1]) + 2)

    frames = list(frames_of(rows, budget))

    assert [(f.first, f.last) for f in frames] == [(1, 2), (3, 3), (4, 4), (5, 6)]
    assert frames[2].text == '{"type":"events","events":[' + rows[3][1].decode() + "]}"
    assert FrameBudget(max_events=2, max_bytes=10_000).fit(body for _, body in rows) == 2


def test_a_log_page_holds_about_one_frame_of_the_events_before_it() -> None:
    budget = FrameBudget(max_events=500, max_bytes=64 * 1024)
    small = [(n, b"x" * 99) for n in range(10)]
    large = [(n, b"x" * 4095) for n in range(10)]

    assert budget.page_after(()) == 64
    assert budget.page_after(small) == 500
    assert budget.page_after(large) == 16
    assert budget.page_after([(1, b"x" * 100_000)]) == 1


async def _stored_run(served: Served, events: int = 300, reason_bytes: int = 10_000) -> str:
    """A run with `events` x `reason_bytes` logged: more than the socket buffers take."""
    run_id = await synthetic_run(served.service, "acme")
    for n in range(events):
        await served.service.bus.emit(
            run_id, ItemRetried, custom_id=f"r{n}", attempt=1, reason="x" * reason_bytes
        )
    return run_id


def _small_buffer_socket(addr_info: aiohttp.abc.AddrInfoType) -> socket.socket:
    sock = socket.socket(addr_info[0], addr_info[1], addr_info[2])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    return sock


async def test_a_reader_that_stops_is_closed_with_1013_and_sees_it_when_it_reads_again(
    open_server: ServerFactory,
) -> None:
    async with open_server(send_timeout_s=0.5) as served:
        run_id = await _stored_run(served)
        connector = aiohttp.TCPConnector(socket_factory=_small_buffer_socket)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.ws_connect(
                served.ws_url(run_id),
                headers=bearer("acme"),
                protocols=(SUBPROTOCOL,),
                max_msg_size=0,
                autoping=False,
            ) as ws,
        ):
            await asyncio.sleep(2.0)
            frames = [decode_frame(message.data) async for message in ws]
            code = ws.close_code

    events = [e for f in frames if isinstance(f, EventsFrame) for e in f.events]
    assert code == 1013
    assert 0 < len(events) < 300
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def _silent_socket(url: str, run_id: str) -> socket.socket:
    """A socket that completes the WebSocket handshake and then never reads."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    sock.connect((host, int(port)))
    sock.sendall(
        (
            f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n"
            f"Authorization: Bearer {TOKENS['acme']}\r\n\r\n"
        ).encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


async def test_a_peer_that_never_reads_again_is_cut_off(
    open_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "CLOSE_GRACE_S", 0.5)
    async with open_server(send_timeout_s=0.5) as served:
        run_id = await _stored_run(served)
        connections = served.server.server.server_state.connections
        sock = await asyncio.to_thread(_silent_socket, served.url, run_id)
        try:
            ends = time.monotonic() + 15
            while connections and time.monotonic() < ends:  # noqa: ASYNC110 -- uvicorn's own set
                await asyncio.sleep(0.1)
            assert not connections, "the server still holds the silent peer's connection"
        finally:
            sock.close()


@pytest.mark.timeout(240)
def test_sixty_silent_sockets_cost_the_server_under_50_mb() -> None:
    """The server in its own process, its RSS read from /proc (`bench/ws_slow_readers.py`)."""
    done = subprocess.run(
        [
            sys.executable, str(BENCH), "--json", "--sockets", "60", "--events", "8000",
            "--reason-bytes", "1200", "--rcvbuf", "4096", "--silent", "9", "--drain", "5",
            "--settle", "2",
        ],
        capture_output=True, text=True, timeout=220, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.splitlines()[-1])

    assert measured["growth_mb"] < 50, measured
    assert measured["after_close_mb"] - measured["idle_mb"] < 50, measured
    assert measured["closed_1013"] == 60, measured
