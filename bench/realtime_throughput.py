"""Realtime throughput as a fraction of the ideal C/L (concurrency over latency).

The emulator answers every call after a fixed latency L and runs in its own process; the
service calls it with concurrency C, storing every result. Target: >= 0.9 at C=64, L=50 ms.

    uv run python bench/realtime_throughput.py [--requests N] [--concurrency C] [--latency L]
"""

from __future__ import annotations

import argparse
import time

from _harness import chats, emulator_process, service
from batchery.cli._loop import run_async
from batchery.logging import configure_logging
from batchery.model import Mode


async def measure(base_url: str, requests: int, concurrency: int) -> float:
    async with service(base_url, realtime_concurrency=concurrency) as svc:
        await svc.run(chats(concurrency, "warm"), mode=Mode.REALTIME, use_cache=False)
        started = time.perf_counter()
        outcome = await svc.run(chats(requests), mode=Mode.REALTIME, use_cache=False)
        elapsed = time.perf_counter() - started
        assert outcome.counts.succeeded == requests, outcome.counts
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    configure_logging(level="warning")
    unlimited = "1000000000"
    with emulator_process(
        "--latency", str(args.latency), "--time-scale", "1", "--rpm", unlimited, "--tpm", unlimited
    ) as url:
        elapsed = run_async(measure(url, args.requests, args.concurrency))
    achieved = args.requests / elapsed
    ideal = args.concurrency / args.latency
    print(f"requests={args.requests} concurrency={args.concurrency} latency={args.latency}s")
    print(
        f"elapsed={elapsed:.2f}s achieved={achieved:.0f}/s ideal={ideal:.0f}/s "
        f"fraction={achieved / ideal:.3f}"
    )


if __name__ == "__main__":
    main()
