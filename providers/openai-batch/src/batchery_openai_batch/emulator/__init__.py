"""The Files and Batches endpoints for emulators, once: routes, and an emulator base over them.

Built on the kit in `batchery.emulator` (file store, batch engine, faults, clock); a dialect
supplies its stores, its refusals' words and its realtime endpoints; `decoded_lines` and its
neighbours read a batch input file the way every dialect reads it.
"""

from batchery_openai_batch.emulator._emulator import BatchEmulator, EngineStore, SnapshotStore
from batchery_openai_batch.emulator._input import UNRUN, decoded_lines, drawn, too_large
from batchery_openai_batch.emulator._routes import BatchRoutes, BatchStorage, Dialect, FileStorage

__all__ = [
    "UNRUN",
    "BatchEmulator",
    "BatchRoutes",
    "BatchStorage",
    "Dialect",
    "EngineStore",
    "FileStorage",
    "SnapshotStore",
    "decoded_lines",
    "drawn",
    "too_large",
]
