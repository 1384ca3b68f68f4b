"""Slow readers: N WebSocket clients follow a long run from its start and never read.

The server runs in its own process (so its memory is its own): it stores a run of `--events`
events, then keeps emitting live ones. Each client completes the handshake with
`after_seq=0` and then reads nothing for `--silent` seconds, so the server must replay the log
to a socket whose buffers are full. Then every client reads what reached it and reports the
close code it got, and all disconnect. Targets: server RSS growth under 50 MB for 60 sockets,
every socket closed with 1013, and the memory given back once they are gone.

    uv run python bench/ws_slow_readers.py [--sockets 60] [--events 24600] [--silent 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from batchery.cli._loop import run_async
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

TOKEN = "tok-bench-slow-0123456789abcdef"  # noqa: S105 -- a throwaway token for a loopback bench


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def serve(args: argparse.Namespace) -> None:
    """The server process: store the run, print `ready URL RUN_ID`, emit live events until
    stdin closes."""
    from batchery.app import build_application
    from batchery.events import ItemRetried, ModeChosen, Progress
    from batchery.logging import configure_logging
    from batchery.model import Job, JobStatus, Mode
    from batchery.server.app import create_app
    from batchery.server.config import ServerConfig, hash_token
    from batchery.server.owners import acting_for
    from batchery.server.serving import bind, origin_of, serve_in_background
    from batchery.service import BatchLlmService
    from batchery.settings import Settings

    configure_logging(level="warning", fmt="console")
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        app = await build_application(Settings(store=f"{scratch}/bench.db"), only=[])
        service = await app.get("batchery.service", BatchLlmService)
        listener = bind()
        config = ServerConfig(
            tokens={hash_token(TOKEN): "bench"}, allowed_origins=(origin_of(listener),)
        )
        run_id, now, total = "run_slow", time.time(), args.events * 10
        job = Job(
            id=run_id,
            provider="bench",
            model=None,
            mode=Mode.REALTIME,
            status=JobStatus.RUNNING,
            total=total,
            created_at=now,
            updated_at=now,
        )
        await service.store.create_job(job, [], [])
        loop = asyncio.get_running_loop()
        async with serve_in_background(create_app(config, app), listener) as server:
            with acting_for("bench"):
                await service.bus.emit(run_id, ModeChosen, mode="realtime", reason="bench")
            padding = "x" * args.reason_bytes
            for n in range(1, args.events):
                await service.bus.emit(
                    run_id, ItemRetried, custom_id=f"req-{n}", attempt=1, reason=padding
                )
            print("ready", server.url, run_id, flush=True)
            stdin_closed = loop.run_in_executor(None, sys.stdin.readline)
            n = args.events
            while not stdin_closed.done():
                await service.bus.emit(
                    run_id, Progress, completed=n, failed=0, total=total, phase="realtime"
                )
                n += 1
                await asyncio.sleep(1 / args.rate)
        await app.close()


class SilentClient:
    """A WebSocket client on a plain socket: it shakes hands, then reads only when told to."""

    def __init__(self, url: str, run_id: str, *, rcvbuf: int) -> None:
        parts = urlsplit(url)
        ws_url = f"ws://{parts.netloc}/api/runs/{run_id}/events?after_seq=0"
        self.protocol = ClientProtocol(
            parse_uri(ws_url), subprotocols=[Subprotocol("batchery.v1")], max_size=None
        )
        self.received: list[object] = []
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((parts.hostname, parts.port))
        request = self.protocol.connect()
        request.headers["Authorization"] = f"Bearer {TOKEN}"
        self.protocol.send_request(request)
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)
        while not any(isinstance(event, Response) for event in self.received):
            self._take(self.sock.recv(4096))
        if self.protocol.handshake_exc is not None:
            raise self.protocol.handshake_exc

    def _take(self, data: bytes) -> None:
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self.received += self.protocol.events_received()

    def _frames(self, opcode: Opcode) -> list[Frame]:
        return [e for e in self.received if isinstance(e, Frame) and e.opcode is opcode]

    def drain(self, idle_s: float, for_s: float) -> tuple[int | None, int]:
        """Read (answering pings and the close) for up to `for_s`, until the server closes,
        hangs up or stays quiet for `idle_s`: the close code received (None if none came) and
        the text frames."""
        self.sock.settimeout(idle_s)
        ends = time.monotonic() + for_s
        while not self._frames(Opcode.CLOSE) and time.monotonic() < ends:
            try:
                data = self.sock.recv(1 << 16)
            except (TimeoutError, ConnectionResetError):
                break
            self._take(data)
            if not data:
                break
            for reply in self.protocol.data_to_send():
                self.sock.sendall(reply)
        closes = [Close.parse(frame.data).code for frame in self._frames(Opcode.CLOSE)]
        return (closes[0] if closes else None), len(self._frames(Opcode.TEXT))

    def close(self) -> None:
        self.sock.close()


async def bench(args: argparse.Namespace) -> dict[str, object]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--events", str(args.events),
        "--reason-bytes", str(args.reason_bytes), "--rate", str(args.rate),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        _, url, run_id = (await server.stdout.readline()).decode().split()
        await asyncio.sleep(1.0)
        idle = rss_mb(server.pid)
        clients = [SilentClient(url, run_id, rcvbuf=args.rcvbuf) for _ in range(args.sockets)]
        peak = idle
        ends = time.monotonic() + args.silent
        while time.monotonic() < ends:
            peak = max(peak, rss_mb(server.pid))
            await asyncio.sleep(0.2)
        silent_end = rss_mb(server.pid)
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            outcomes = list(pool.map(lambda c: c.drain(idle_s=2.0, for_s=args.drain), clients))
        for client in clients:
            client.close()
        await asyncio.sleep(args.settle)
        after = rss_mb(server.pid)
    finally:
        server.stdin.close()
        await server.wait()
    codes = [code for code, _ in outcomes]
    return {
        "sockets": args.sockets,
        "events": args.events,
        "idle_mb": round(idle, 1),
        "peak_mb": round(peak, 1),
        "silent_end_mb": round(silent_end, 1),
        "after_close_mb": round(after, 1),
        "growth_mb": round(peak - idle, 1),
        "mb_per_socket": round((peak - idle) / args.sockets, 2),
        "closed_1013": codes.count(1013),
        "close_codes": sorted({str(code) for code in codes}),
        "frames_read": sum(frames for _, frames in outcomes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=60)
    parser.add_argument("--events", type=int, default=24_600, help="events stored before")
    parser.add_argument(
        "--reason-bytes", type=int, default=300, help="padding of each stored event's reason"
    )
    parser.add_argument(
        "--rcvbuf", type=int, default=0, help="clients' SO_RCVBUF (0: the system's default)"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="live events per second")
    parser.add_argument("--silent", type=float, default=12.0, help="seconds clients read nothing")
    parser.add_argument("--drain", type=float, default=5.0, help="seconds clients then read")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after disconnecting")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.pop("BATCHERY_STORE", None)
    shm = Path("/dev/shm")  # noqa: S108 -- memory-backed, so fsync does not pace the run
    args.scratch = str(shm) if shm.is_dir() else None
    if args.serve:
        run_async(serve(args))
        return
    result = run_async(bench(args))
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:16} {value}")


if __name__ == "__main__":
    main()
