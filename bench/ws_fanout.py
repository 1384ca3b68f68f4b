"""WebSocket fan-out: N subscribers on loopback follow one run that emits R events a second.

The server runs in its own process (so its memory can be read alone) and drives the run
itself: every event is committed to the SQLite job store, published through the channels
plugin (in memory, or Redis with --redis) and sent to every subscriber. The subscribers share
this process; each event's delivery latency is its arrival time minus the `ts` it was stamped
with. Targets at 500 subscribers and 1,000 events/s: p99 < 250 ms, server RSS growth < 50 MB.

    uv run python bench/ws_fanout.py [--subscribers 500] [--rate 1000] [--seconds 10] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
from batchery.cli._loop import run_async

TOKEN = "tok-bench-0123456789abcdef"  # noqa: S105 -- a throwaway token for a loopback bench


class _Event(msgspec.Struct):
    seq: int
    ts: float


class _Frame(msgspec.Struct):
    type: str
    events: list[_Event] = []


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def serve(args: argparse.Namespace) -> None:
    """The server process: print `ready URL RUN_ID`, emit on `go`, print `done N SECONDS`."""
    from batchery.app import build_application
    from batchery.events import ModeChosen, Progress, RunFinished
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
            tokens={hash_token(TOKEN): "bench"},
            allowed_origins=(origin_of(listener),),
            redis_url=args.redis,
            flush_interval_s=args.flush,
            frames_per_s=args.frames_per_s,
        )
        total = int(args.rate * args.seconds)
        now = time.time()
        run_id = "run_bench"
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
            print("ready", server.url, run_id, flush=True)
            await loop.run_in_executor(None, sys.stdin.readline)
            started = time.perf_counter()
            for n in range(1, total + 1):
                delay = started + n / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await service.bus.emit(
                    run_id, Progress, completed=n, failed=0, total=total, phase="realtime"
                )
            await service.bus.emit(run_id, RunFinished, status="completed", total=total,
                                   succeeded=total, failed=0, duration_s=0.0)  # fmt: skip
            print("done", total, time.perf_counter() - started, flush=True)
            await loop.run_in_executor(None, sys.stdin.readline)
        await app.close()


class Stats:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.events = 0
        self.gaps = 0
        self.closed_slow = 0


async def subscriber(
    session: aiohttp.ClientSession, url: str, run_id: str, stats: Stats, ready: asyncio.Event
) -> None:
    decoder = msgspec.json.Decoder(_Frame)
    async with session.ws_connect(
        f"{url}/api/runs/{run_id}/events",
        params={"after_seq": "1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        protocols=("batchery.v1",),
        max_msg_size=0,
    ) as socket:
        ready.set()
        expected = 2
        record = stats.latencies_ms.append
        async for message in socket:
            now = time.time()
            frame = decoder.decode(message.data)
            if frame.type != "events":
                stats.closed_slow += 1
                break
            for event in frame.events:
                if event.seq != expected:
                    stats.gaps += 1
                expected = event.seq + 1
                record((now - event.ts) * 1000)
            stats.events += len(frame.events)


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(args: argparse.Namespace) -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--rate", str(args.rate), "--seconds",
        str(args.seconds), "--flush", str(args.flush), "--frames-per-s", str(args.frames_per_s),
        *(["--redis", args.redis] if args.redis
        else []),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert server.stdin is not None
    assert server.stdout is not None
    _, url, run_id = (await server.stdout.readline()).decode().split()
    await asyncio.sleep(0.5)
    idle = rss_mb(server.pid)
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = []
        for start in range(0, args.subscribers, 50):
            batch = [asyncio.Event() for _ in range(start, min(args.subscribers, start + 50))]
            tasks += [
                asyncio.create_task(subscriber(session, url, run_id, stats, ready))
                for ready in batch
            ]
            await asyncio.gather(*(ready.wait() for ready in batch))
        await asyncio.sleep(0.5)
        connected = rss_mb(server.pid)
        peak = connected
        server_cpu = cpu_s(server.pid)
        client_cpu = cpu_s(os.getpid())
        server.stdin.write(b"go\n")
        await server.stdin.drain()
        done_line = asyncio.create_task(server.stdout.readline())
        while not done_line.done():
            peak = max(peak, rss_mb(server.pid))
            await asyncio.wait({done_line}, timeout=0.25)
        _, emitted, took = done_line.result().decode().split()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        server_cpu = cpu_s(server.pid) - server_cpu
        client_cpu = cpu_s(os.getpid()) - client_cpu
        after = rss_mb(server.pid)
    server.stdin.write(b"stop\n")
    await server.stdin.drain()
    await server.wait()

    expected = args.subscribers * (int(emitted) + 1)
    print(f"subscribers          {args.subscribers}")
    print(f"events emitted       {emitted} in {float(took):.2f}s "
          f"({int(emitted) / float(took):.0f}/s, target {args.rate:g}/s)")  # fmt: skip
    print(f"events delivered     {stats.events} of {expected} "
          f"(gaps {stats.gaps}, told to resync {stats.closed_slow})")  # fmt: skip
    print(f"latency p50          {percentile(stats.latencies_ms, 0.50):.1f} ms")
    print(f"latency p99          {percentile(stats.latencies_ms, 0.99):.1f} ms")
    print(f"latency max          {max(stats.latencies_ms):.1f} ms")
    print(f"server RSS           idle {idle:.1f} MB, {args.subscribers} connected "
          f"{connected:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB")  # fmt: skip
    print(f"server RSS growth    {peak - idle:.1f} MB (idle to peak)")
    print(f"CPU while emitting   server {server_cpu:.1f}s, subscribers {client_cpu:.1f}s "
          f"({os.cpu_count()} cores)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flush", type=float, default=0.05, help="server flush interval (s)")
    parser.add_argument(
        "--frames-per-s", type=float, default=2500.0, help="server frame budget per run"
    )
    parser.add_argument("--redis", help="fan out through Redis at this URL")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.pop("BATCHERY_STORE", None)
    shm = Path("/dev/shm")  # noqa: S108 -- memory-backed, so fsync does not pace the run
    args.scratch = str(shm) if shm.is_dir() else None
    run_async(serve(args) if args.serve else bench(args))


if __name__ == "__main__":
    main()
