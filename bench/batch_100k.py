"""The batch path for 100,000 chat requests: build and upload, then download and parse.

Prints requests per second for each half at the provider level, then the whole service path
(validate, plan, store, submit two 50,000-request batches, poll, collect, store every result),
and the process's peak RSS. The emulator runs in its own process, so its memory is not counted.
Target: peak RSS under 300 MB, streaming end to end.

    uv run python bench/batch_100k.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from collections.abc import Iterator

from _harness import KEY, chats, emulator_process, service
from batchery.cli._loop import run_async
from batchery.logging import configure_logging
from batchery.model import LlmRequest, Message, Mode
from batchery.secrets import Secret
from batchery_openai import OpenAIOptions, OpenAIProvider, create_session


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lazy_chats(n: int, prefix: str) -> Iterator[LlmRequest]:
    for i in range(n):
        yield LlmRequest(
            custom_id=f"{prefix}-{i}",
            model="gpt-4o-mini",
            max_tokens=16,
            messages=(Message("user", f"{prefix} item {i}: say something short"),),
        )


async def provider_level(base_url: str, count: int) -> tuple[float, float]:
    session = create_session(OpenAIOptions(api_key=Secret(KEY), base_url=base_url))
    try:
        provider = OpenAIProvider(OpenAIOptions(api_key=Secret(KEY), base_url=base_url), session)
        started = time.perf_counter()
        state = await provider.submit_batch(lazy_chats(count, "p"), tag=uuid.uuid4().hex)
        upload_s = time.perf_counter() - started
        while True:
            state = await provider.get_batch(state.batch_id)
            if state.status.terminal:
                break
            await asyncio.sleep(0.2)
        started = time.perf_counter()
        lines = 0
        async for _ in provider.collect(state):
            lines += 1
        parse_s = time.perf_counter() - started
        assert lines == count, lines
        return upload_s, parse_s
    finally:
        await session.close()


async def service_level(base_url: str, count: int) -> float:
    async with service(base_url, poll_interval_s=0.2, poll_max_interval_s=0.5) as svc:
        requests = chats(count, "s")
        started = time.perf_counter()
        outcome = await svc.run(requests, mode=Mode.BATCH, use_cache=False)
        elapsed = time.perf_counter() - started
        assert outcome.counts.succeeded == count, outcome.counts
        assert outcome.batches_submitted == -(-count // 50_000)
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    configure_logging(level="warning")
    n = args.requests
    with emulator_process("--time-scale", "100000") as url:
        half = min(n, 50_000)
        upload_s, parse_s = run_async(provider_level(url, half))
        print(
            f"provider, one batch of {half}: build+upload {upload_s:.2f}s "
            f"({half / upload_s:,.0f} req/s), download+parse {parse_s:.2f}s "
            f"({half / parse_s:,.0f} req/s); peak RSS so far {peak_rss_mb():.0f} MB"
        )
        total_s = run_async(service_level(url, n))
        print(
            f"service, {n} requests end to end: {total_s:.2f}s ({n / total_s:,.0f} req/s); "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )


if __name__ == "__main__":
    main()
