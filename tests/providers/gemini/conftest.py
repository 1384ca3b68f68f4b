"""A Gemini emulator and a provider pointed at it, over real loopback HTTP.

The emulator runs at `time_scale=1` unless asked otherwise, and tests jump its clock forward
with `clock.advance`, so each batch is caught in exactly the state a test needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions
from batchery_gemini import GeminiOptions, GeminiProvider, create_session
from batchery_gemini.emulator import GeminiEmulator

GEMINI_KEY = "AIzaSyCANARYgeminiKEY0123456789abcdefXYZ"
"""A canary shaped like a Google API key: tests assert it never leaks anywhere."""

LaunchGemini = Callable[..., Awaitable[tuple[GeminiEmulator, GeminiProvider]]]


@pytest.fixture
async def launch_gemini() -> AsyncIterator[LaunchGemini]:
    """Start an emulator with `faults` and a provider for it; both are closed afterwards."""
    emulators: list[GeminiEmulator] = []
    sessions: list[aiohttp.ClientSession] = []

    async def launch(
        faults: str = "",
        *,
        key: str = GEMINI_KEY,
        job_states: bool = False,
        time_scale: float = 1.0,
        **options: object,
    ) -> tuple[GeminiEmulator, GeminiProvider]:
        emulator = GeminiEmulator(
            EmulatorOptions(faults=faults, seed=7, time_scale=time_scale),
            api_key=GEMINI_KEY,
            job_states=job_states,
        )
        await emulator.start()
        emulators.append(emulator)
        settings = GeminiOptions(
            api_key=Secret(key),
            base_url=emulator.base_url,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
            **options,  # type: ignore[arg-type]
        )
        sessions.append(create_session(settings))
        return emulator, GeminiProvider(settings, sessions[-1])

    yield launch
    for session in sessions:
        await session.close()
    for emulator in emulators:
        await emulator.close()


@pytest.fixture
def gemini_key() -> str:
    """The key `launch_gemini` configures on both sides."""
    return GEMINI_KEY
