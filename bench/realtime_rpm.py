"""Realtime throughput under a requests-per-minute limit, and how often a 429 was met.

The emulator enforces RPM per emulated minute with OpenAI's `x-ratelimit-*` headers and 429s
with `retry-after`; the service's shared limiter learns from the headers. Targets: at least
0.95 of the limit, and under 1% of requests meeting a 429.

    uv run python bench/realtime_rpm.py [--rpm R] [--time-scale S] [--windows W]
"""

from __future__ import annotations

import argparse
import time

from _harness import chats, emulator_process, service
from batchery.cli._loop import run_async
from batchery.events import ItemRetried
from batchery.logging import configure_logging
from batchery.model import Mode


async def measure(base_url: str, requests: int) -> tuple[float, int]:
    async with service(base_url, realtime_concurrency=64, max_attempts=5) as svc:
        throttled = 0
        async with svc.bus.subscribe() as queue:
            started = time.perf_counter()
            outcome = await svc.run(chats(requests), mode=Mode.REALTIME, use_cache=False)
            elapsed = time.perf_counter() - started
            while not queue.empty():
                event = queue.get_nowait()
                throttled += isinstance(event, ItemRetried) and event.reason == "rate_limited"
        assert outcome.counts.succeeded == requests, outcome.counts
        return elapsed, throttled


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
        elapsed, throttled = run_async(measure(url, requests))
    limit_per_s = args.rpm * args.time_scale / 60.0
    achieved = requests / elapsed
    print(
        f"rpm={args.rpm} time_scale={args.time_scale} -> limit {limit_per_s:.0f}/s real; "
        f"requests={requests}"
    )
    print(
        f"elapsed={elapsed:.2f}s achieved={achieved:.1f}/s fraction_of_limit="
        f"{achieved / limit_per_s:.3f} met_429={throttled} ({throttled / requests:.2%})"
    )


if __name__ == "__main__":
    main()
