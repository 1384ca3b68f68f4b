"""The Gemini API emulated over real HTTP on loopback, built on `batchery.emulator`.

```python
async with GeminiEmulator(EmulatorOptions(time_scale=100, faults="line_error=0.1")) as emu:
    client = genai.Client(api_key="test", http_options=types.HttpOptions(base_url=emu.base_url))
```
"""

from batchery_gemini.emulator._batches import EXPIRE_S, PENDING_S, REQUESTS_PER_S
from batchery_gemini.emulator._emulator import SUPPORTED_FAULTS, GeminiEmulator
from batchery_gemini.emulator._http import RecordedRequest
from batchery_gemini.emulator._wire import FileResource, Operation

__all__ = [
    "EXPIRE_S",
    "PENDING_S",
    "REQUESTS_PER_S",
    "SUPPORTED_FAULTS",
    "FileResource",
    "GeminiEmulator",
    "Operation",
    "RecordedRequest",
]
