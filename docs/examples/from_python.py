"""Run a small workload from Python and read every outcome.

The key comes from OPENAI_API_KEY and the base URL from OPENAI_BASE_URL (the real API when
unset); the job store is the `store` setting (batchery.toml, BATCHERY_STORE) or the default
file in the user data directory.
"""

import asyncio

from batchery.app import build_application
from batchery.model import LlmRequest, Message, Mode
from batchery.settings import load_settings

QUESTIONS = [
    "Name one prime number greater than 10.",
    "What is the capital of Portugal?",
    "Translate 'good morning' into French.",
]


async def main() -> None:
    settings = load_settings().settings  # what the CLI reads: batchery.toml, BATCHERY_*
    app = await build_application(settings, only=["openai"])
    try:
        service = await app.get("batchery.service")
        requests = [
            LlmRequest(
                custom_id=f"q-{n}",
                model="gpt-4o-mini",
                messages=(Message("user", question),),
                max_tokens=100,
            )
            for n, question in enumerate(QUESTIONS)
        ]
        outcome = await service.run(requests, provider="openai", mode=Mode.AUTO, deadline_s=3600)
        counts = outcome.counts
        print(f"job {outcome.job.id}: {outcome.job.status} in {outcome.job.mode} mode")
        print(f"{counts.succeeded} succeeded, {counts.failed} failed, ${counts.cost_usd:.6f}")
        async for result in service.get_batch_results(outcome.job.id):
            if result.ok:
                print(f"{result.custom_id} ok: {result.text}")
            elif result.error is not None:
                print(f"{result.custom_id} failed: {result.error.code}: {result.error.message}")
    finally:
        await app.close()


asyncio.run(main())
