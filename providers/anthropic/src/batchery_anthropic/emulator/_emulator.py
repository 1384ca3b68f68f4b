"""`AnthropicEmulator`: Anthropic's Message Batches and Messages APIs on loopback HTTP."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from aiohttp import web
from batchery.emulator import EmulatorServer, FaultPlan, ScaledClock
from batchery.spi import EmulatorOptions

from batchery_anthropic.emulator._app import build_app
from batchery_anthropic.emulator._batches import BatchStore
from batchery_anthropic.emulator._http import Ids
from batchery_anthropic.emulator._wire import MessageBatch

__all__ = ["SUPPORTED_FAULTS", "AnthropicEmulator"]

SUPPORTED_FAULTS = frozenset(
    {
        "http_429",
        "retry_after",
        "http_500",
        "http_503",
        "http_529",
        "create_lost",
        "create_dropped",
        "batch_404",
        "batch_expire",
        "line_error",
        "malformed",
        "shuffle",
        "duplicate",
        "unknown_id",
        "all_errors",
    }
)
"""The kit's faults that Anthropic can show; not `token_limit` (Anthropic has no batch-level
failure) nor `empty_error_file` (results are one stream, not files)."""


class AnthropicEmulator(EmulatorServer):
    """Anthropic's API under `base_url` (`http://127.0.0.1:PORT`), for tests and demos.

    Point the official SDK at it with `anthropic.AsyncAnthropic(base_url=emulator.base_url,
    api_key=...)`. Any `x-api-key` is accepted unless `api_key` is given, in which case it must
    match. Batch requests and results live in a temporary directory the emulator owns and
    removes on `close`. `options.faults` is parsed at once, so a bad spec raises `ValueError`
    here; the emulated clock starts now, and `clock.advance` can jump it forward.
    """

    def __init__(self, options: EmulatorOptions | None = None, *, api_key: str | None = None):
        super().__init__()
        self.options = options or EmulatorOptions()
        self.plan = FaultPlan.parse(
            self.options.faults, seed=self.options.seed, allowed=SUPPORTED_FAULTS
        )
        self.clock = ScaledClock(self.options.time_scale)
        self._api_key = api_key
        self._dir: Path | None = None
        self._batches: BatchStore | None = None
        self._origin = "http://127.0.0.1"

    def __repr__(self) -> str:
        where = self.root_url if self.started else "not started"
        return f"AnthropicEmulator({where}, time_scale={self.clock.time_scale:g}, {self.plan!r})"

    def build_app(self) -> web.Application:
        self._dir = Path(tempfile.mkdtemp(prefix="batchery-anthropic-emulator-"))
        ids = Ids()
        self._batches = BatchStore(self._dir, ids, self.clock, self.plan)
        return build_app(
            batches=self._batches,
            ids=ids,
            clock=self.clock,
            plan=self.plan,
            latency_s=self.options.latency_s,
            api_key=self._api_key,
            requests_per_min=self.options.requests_per_min,
            tokens_per_min=self.options.tokens_per_min,
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await super().start(host, port)
        self._origin = self.root_url

    async def close(self) -> None:
        await super().close()
        if self._batches is not None:
            await self._batches.wait_idle()
        directory, self._dir = self._dir, None
        if directory is not None:
            await asyncio.to_thread(shutil.rmtree, directory, True)

    @property
    def storage_dir(self) -> Path | None:
        """Where batch requests and results are kept while the emulator runs."""
        return self._dir

    def batches(self) -> list[MessageBatch]:
        """Every batch as last advanced, oldest first; `await refresh()` brings them to now."""
        return self._batches.snapshot(self._origin) if self._batches is not None else []

    async def refresh(self) -> None:
        """Advance every batch to the current emulated time, as a read through the API would."""
        if self._batches is not None:
            await self._batches.refresh()
