"""Realtime throughput under a requests-per-minute limit, and how often a 429 was met.

The emulator enforces RPM per fixed emulated minute with OpenAI's `x-ratelimit-*` headers and
429s with `retry-after`; the service's shared limiter learns from the headers. Throughput is
measured in each emulated minute that lies wholly inside the run (the emulator's clock starts
with its process, so the windows are known), from the run's own progress events. Targets: at
least 0.95 of the limit, and under 1% of requests meeting a 429.

    uv run python bench/realtime_rpm.py [--rpm R] [--time-scale S] [--windows W]
"""

from __future__ import annotations

import argparse
import time

import msgspec
from _harness import chats, emulator_process, service
from batchery.cli._loop import run_async
from batchery.events import ItemRetried, Progress
from batchery.logging import configure_logging
from batchery.model import Mode


class Run(msgspec.Struct):
    started: float
    ended: float
    throttled: int
    progress: list[tuple[float, int]]
    """(timestamp, requests completed) from the run's `Progress` events."""


async def measure(base_url: str, requests: int) -> Run:
    async with service(base_url, realtime_concurrency=64, max_attempts=5) as svc:
        run = Run(started=time.time(), ended=0.0, throttled=0, progress=[(time.time(), 0)])
        async with svc.bus.subscribe() as queue:
            outcome = await svc.run(chats(requests), mode=Mode.REALTIME, use_cache=False)
            run.ended = time.time()
            while not queue.empty():
                event = queue.get_nowait()
                if isinstance(event, ItemRetried) and event.reason == "rate_limited":
                    run.throttled += 1
                elif isinstance(event, Progress):
                    run.progress.append((event.ts, event.completed + event.failed))
        assert outcome.counts.succeeded == requests, outcome.counts
        return run


def full_windows(run: Run, born: float, scale: float) -> list[tuple[float, float]]:
    """Real-time spans of the emulated minutes that lie wholly inside the run."""
    length = 60.0 / scale
    first = ((born + (run.started - born) * scale) // 60 + 1) * 60.0
    spans = []
    start = born + (first - born) / scale
    while start + length <= run.ended:
        spans.append((start, start + length))
        start += length
    return spans


def done_by(run: Run, at: float) -> int:
    return max((count for ts, count in run.progress if ts <= at), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rpm", type=int, default=3000)
    parser.add_argument("--time-scale", type=float, default=6.0)
    parser.add_argument("--windows", type=int, default=4, help="emulated minutes of work")
    args = parser.parse_args()
    configure_logging(level="warning")
    requests = args.rpm * args.windows
    with emulator_process(
        "--time-scale", str(args.time_scale), "--rpm", str(args.rpm), "--latency", "0.02"
    ) as url:
        born = time.time()  # the emulator's clock started just before it said it listens
        run = run_async(measure(url, requests))
    used = [
        (done_by(run, end) - done_by(run, start)) / args.rpm
        for start, end in full_windows(run, born, args.time_scale)
    ]
    limit_per_s = args.rpm * args.time_scale / 60.0
    print(
        f"rpm={args.rpm} time_scale={args.time_scale} -> limit {limit_per_s:.0f}/s real "
        f"({60 / args.time_scale:.0f} s windows); requests={requests} in "
        f"{run.ended - run.started:.1f}s"
    )
    print(
        f"full windows={len(used)}, share of each window's limit used: "
        f"{', '.join(f'{u:.3f}' for u in used)}; mean {sum(used) / max(1, len(used)):.3f}"
    )
    print(f"met_429={run.throttled} ({run.throttled / requests:.2%})")


if __name__ == "__main__":
    main()
