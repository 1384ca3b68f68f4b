"""A base for provider emulators that keep their state in a temporary directory.

Every emulator reads its options the same way: the fault spec is parsed against the faults the
provider can show (so a bad spec raises `ValueError` at construction, not at the first request),
the scaled clock starts now, and files live in a directory made on start and removed on close.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

from batchery.emulator._clock import ScaledClock
from batchery.emulator._faults import FaultPlan
from batchery.emulator._server import EmulatorServer
from batchery.spi import EmulatorOptions

__all__ = ["StorageEmulator"]


class StorageEmulator(EmulatorServer):
    """An `EmulatorServer` with options, a fault plan, a clock and a storage directory.

    Subclasses name their `supported_faults` and `storage_prefix`, call `new_storage` from
    `build_app`, and override `drain` to wait for work that still uses the directory.
    """

    supported_faults: ClassVar[frozenset[str]]
    storage_prefix: ClassVar[str]

    def __init__(self, options: EmulatorOptions | None = None, *, api_key: str | None = None):
        super().__init__()
        self.options = options or EmulatorOptions()
        self.plan = FaultPlan.parse(
            self.options.faults, seed=self.options.seed, allowed=self.supported_faults
        )
        self.clock = ScaledClock(self.options.time_scale)
        self._api_key = api_key
        self._dir: Path | None = None

    def __repr__(self) -> str:
        where = self.root_url if self.started else "not started"
        name = type(self).__name__
        return f"{name}({where}, time_scale={self.clock.time_scale:g}, {self.plan!r})"

    def new_storage(self) -> Path:
        """Make the directory this run keeps its files in."""
        self._dir = Path(tempfile.mkdtemp(prefix=self.storage_prefix))
        return self._dir

    @property
    def storage_dir(self) -> Path | None:
        """Where file bytes are kept while the emulator runs."""
        return self._dir

    async def drain(self) -> None:
        """Wait for work that still uses the storage directory; nothing by default."""

    async def close(self) -> None:
        await super().close()
        await self.drain()
        directory, self._dir = self._dir, None
        if directory is not None:
            await asyncio.to_thread(shutil.rmtree, directory, True)
