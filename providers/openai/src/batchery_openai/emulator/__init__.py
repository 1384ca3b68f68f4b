"""OpenAI's API emulated over real HTTP on loopback, built on `batchery.emulator`.

```python
async with OpenAIEmulator(EmulatorOptions(time_scale=100, faults="line_error=0.1")) as emu:
    client = openai.AsyncOpenAI(base_url=emu.base_url, api_key="sk-test")
```
"""

from batchery_openai.emulator._app import build_app
from batchery_openai.emulator._batches import (
    CANCELLING_S,
    FINALIZING_S,
    REQUESTS_PER_S,
    VALIDATING_S,
    WINDOW_S,
    BatchStore,
)
from batchery_openai.emulator._emulator import SUPPORTED_FAULTS, OpenAIEmulator
from batchery_openai.emulator._files import FileStore
from batchery_openai.emulator._http import Ids
from batchery_openai.emulator._wire import BatchObject, CreateBatchBody, FileObject

__all__ = [
    "CANCELLING_S",
    "FINALIZING_S",
    "REQUESTS_PER_S",
    "SUPPORTED_FAULTS",
    "VALIDATING_S",
    "WINDOW_S",
    "BatchObject",
    "BatchStore",
    "CreateBatchBody",
    "FileObject",
    "FileStore",
    "Ids",
    "OpenAIEmulator",
    "build_app",
]
