"""Anthropic's API emulated over real HTTP on loopback, built on `batchery.emulator`.

```python
async with AnthropicEmulator(EmulatorOptions(time_scale=100, faults="line_error=0.1")) as emu:
    client = anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="sk-ant-test")
```
"""

from batchery_anthropic.emulator._batches import (
    CANCELING_S,
    MAX_REQUESTS,
    REQUESTS_PER_S,
    RESULTS_TTL_S,
    START_S,
    WINDOW_S,
)
from batchery_anthropic.emulator._emulator import SUPPORTED_FAULTS, AnthropicEmulator
from batchery_anthropic.emulator._messages import CACHE_MIN_TOKENS
from batchery_anthropic.emulator._ratelimit import (
    INPUT_TOKENS_PER_MIN,
    OUTPUT_TOKENS_PER_MIN,
    REQUESTS_PER_MIN,
)
from batchery_anthropic.emulator._wire import MessageBatch, RequestCounts

__all__ = [
    "CACHE_MIN_TOKENS",
    "CANCELING_S",
    "INPUT_TOKENS_PER_MIN",
    "MAX_REQUESTS",
    "OUTPUT_TOKENS_PER_MIN",
    "REQUESTS_PER_MIN",
    "REQUESTS_PER_S",
    "RESULTS_TTL_S",
    "START_S",
    "SUPPORTED_FAULTS",
    "WINDOW_S",
    "AnthropicEmulator",
    "MessageBatch",
    "RequestCounts",
]
