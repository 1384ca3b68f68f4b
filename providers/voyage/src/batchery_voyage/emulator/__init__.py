"""Voyage AI's API emulated over real HTTP on loopback, built on `batchery.emulator`.

```python
async with VoyageEmulator(EmulatorOptions(time_scale=100, faults="line_error=0.1")) as emu:
    client = voyageai.AsyncClient(api_key="pa-test", base_url=emu.base_url)
```
"""

from batchery_voyage.emulator._app import MAX_IN_FLIGHT, REQUESTS_PER_MIN, TOKENS_PER_MIN
from batchery_voyage.emulator._batches import (
    CANCELLING_S,
    FINALIZING_S,
    REQUESTS_PER_S,
    VALIDATING_S,
    WINDOW_S,
)
from batchery_voyage.emulator._emulator import SUPPORTED_FAULTS, VoyageEmulator
from batchery_voyage.emulator._responses import rerank_score
from batchery_voyage.emulator._wire import BatchObject, FileObject

__all__ = [
    "CANCELLING_S",
    "FINALIZING_S",
    "MAX_IN_FLIGHT",
    "REQUESTS_PER_MIN",
    "REQUESTS_PER_S",
    "SUPPORTED_FAULTS",
    "TOKENS_PER_MIN",
    "VALIDATING_S",
    "WINDOW_S",
    "BatchObject",
    "FileObject",
    "VoyageEmulator",
    "rerank_score",
]
