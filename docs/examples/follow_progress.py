"""Follow one run on a Batchery server, from its first event to its last.

BATCHERY_TOKEN=... python follow_progress.py http://127.0.0.1:8000 RUN_ID
"""

import asyncio
import os
import sys

import msgspec
from batchery.client import ProgressClient


async def main(url: str, run_id: str) -> None:
    async with ProgressClient(url, os.environ["BATCHERY_TOKEN"]) as client:
        async for event in client.follow(run_id, after_seq=0):
            print(msgspec.json.encode(event).decode())
        state = client.last_state(run_id)
        print(f"{state.status}: {state.completed} succeeded, {state.failed} failed")


asyncio.run(main(sys.argv[1], sys.argv[2]))
