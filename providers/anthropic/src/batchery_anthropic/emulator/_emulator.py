"""`AnthropicEmulator`: Anthropic's Message Batches and Messages APIs on loopback HTTP."""

from __future__ import annotations

from aiohttp import web
from batchery.emulator import FAULTS, StorageEmulator
from batchery.spi import EmulatorOptions

from batchery_anthropic.emulator._app import build_app
from batchery_anthropic.emulator._batches import BatchStore
from batchery_anthropic.emulator._http import Ids
from batchery_anthropic.emulator._wire import MessageBatch

__all__ = ["SUPPORTED_FAULTS", "AnthropicEmulator"]

SUPPORTED_FAULTS = frozenset(FAULTS) - {
    "token_limit",
    "empty_error_file",
    "fenced_json",
    "prose_json",
    "truncated_json",
}
"""The kit's faults that Anthropic can show; not `token_limit` (Anthropic has no batch-level
failure) nor `empty_error_file` (results are one stream, not files)."""


class AnthropicEmulator(StorageEmulator):
    """Anthropic's API under `base_url` (`http://127.0.0.1:PORT`), for tests and demos.

    Point the official SDK at it with `anthropic.AsyncAnthropic(base_url=emulator.base_url,
    api_key=...)`. Any `x-api-key` is accepted unless `api_key` is given, in which case it must
    match. Batch requests and results live in a temporary directory the emulator owns and
    removes on `close`. `options.faults` is parsed at once, so a bad spec raises `ValueError`
    here; the emulated clock starts now, and `clock.advance` can jump it forward.
    """

    supported_faults = SUPPORTED_FAULTS
    storage_prefix = "batchery-anthropic-emulator-"

    def __init__(self, options: EmulatorOptions | None = None, *, api_key: str | None = None):
        super().__init__(options, api_key=api_key)
        self._batches: BatchStore | None = None
        self._origin = "http://127.0.0.1"

    def build_app(self) -> web.Application:
        ids = Ids()
        self._batches = BatchStore(self.new_storage(), ids, self.clock, self.plan)
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

    async def drain(self) -> None:
        if self._batches is not None:
            await self._batches.wait_idle()

    def batches(self) -> list[MessageBatch]:
        """Every batch as last advanced, oldest first; `await refresh()` brings them to now."""
        return self._batches.snapshot(self._origin) if self._batches is not None else []

    async def refresh(self) -> None:
        """Advance every batch to the current emulated time, as a read through the API would."""
        if self._batches is not None:
            await self._batches.refresh()
