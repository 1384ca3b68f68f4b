"""Shared pieces of the benchmarks: an emulator in its own process and a booted service."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from batchery.app import build_application
from batchery.model import LlmRequest, Message
from batchery.service import BatchLlmService
from batchery.settings import Settings

KEY = "sk-bench-0000000000000000"


@contextmanager
def emulator_process(*args: str) -> Iterator[str]:
    """`batchery emulate openai ARGS` on its own core; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchery", "emulate", "openai", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        yield line.removeprefix("listening on ") + "/v1"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@asynccontextmanager
async def service(base_url: str, **settings: object) -> AsyncIterator[BatchLlmService]:
    with tempfile.TemporaryDirectory() as scratch:
        chosen = Settings(store=str(Path(scratch) / "bench.db"), log_level="warning", **settings)  # type: ignore[arg-type]
        app = await build_application(
            chosen,
            only=["openai"],
            provider_options={"openai": {"base_url": base_url, "api_key": KEY}},
        )
        try:
            yield await app.get("batchery.service")
        finally:
            await app.close()


def chats(n: int, prefix: str = "b", max_tokens: int | None = 16) -> list[LlmRequest]:
    return [
        LlmRequest(
            custom_id=f"{prefix}-{i}",
            max_tokens=max_tokens,
            messages=(Message("user", f"{prefix} item {i}: say something short"),),
        )
        for i in range(n)
    ]
