"""The emulator base of a Files-and-Batches server: its two stores, kept for tests to inspect.

A dialect opens its file store and batch engine in the emulator's storage directory and builds
its application over them; the rest (waiting for background work at close, snapshots of every
batch and file, advancing batches to "now") is the same for OpenAI, Voyage and Together.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from aiohttp import web
from batchery.emulator import StorageEmulator
from batchery.spi import EmulatorOptions

__all__ = ["BatchEmulator", "EngineStore", "SnapshotStore"]

_W = TypeVar("_W")
_FileWire = TypeVar("_FileWire")
_BatchWire = TypeVar("_BatchWire")


class SnapshotStore(Protocol[_W]):
    def snapshot(self) -> list[_W]: ...


class EngineStore(SnapshotStore[_W], Protocol[_W]):
    async def wait_idle(self) -> None: ...

    async def refresh(self) -> None: ...


class BatchEmulator(StorageEmulator, Generic[_FileWire, _BatchWire], abc.ABC):
    """A dialect's API under `base_url`, over a file store and a batch engine of its own."""

    def __init__(self, options: EmulatorOptions | None = None, *, api_key: str | None = None):
        super().__init__(options, api_key=api_key)
        self._files: SnapshotStore[_FileWire] | None = None
        self._batches: EngineStore[_BatchWire] | None = None

    @abc.abstractmethod
    def open(
        self, directory: Path
    ) -> tuple[SnapshotStore[_FileWire], EngineStore[_BatchWire], web.Application]:
        """The stores in `directory` and the application that serves them."""

    @property
    def required_key(self) -> str | None:
        """The key every request must carry; None accepts any bearer key."""
        return self._api_key

    def build_app(self) -> web.Application:
        self._files, self._batches, app = self.open(self.new_storage())
        return app

    async def drain(self) -> None:
        if self._batches is not None:
            await self._batches.wait_idle()

    def batches(self) -> list[_BatchWire]:
        """Every batch as last advanced, oldest first; `await refresh()` brings them to now."""
        return self._batches.snapshot() if self._batches is not None else []

    def files(self) -> list[_FileWire]:
        """Every stored file, oldest first."""
        return self._files.snapshot() if self._files is not None else []

    async def refresh(self) -> None:
        """Advance every batch to the current emulated time, as a read through the API would."""
        if self._batches is not None:
            await self._batches.refresh()
