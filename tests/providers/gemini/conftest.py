"""A Gemini emulator and a provider pointed at it, over real loopback HTTP.

The emulator runs at `time_scale=1` unless asked otherwise, and tests jump its clock forward
with `clock.advance`, so each batch is caught in exactly the state a test needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from batchery.secrets import Secret
from batchery.spi import EmulatorOptions
from batchery_gemini import GeminiOptions, GeminiProvider, create_session
from batchery_gemini.emulator import GeminiEmulator

from ..conftest import Opened

GEMINI_KEY = "AIzaSyCANARYgeminiKEY0123456789abcdefXYZ"
"""A canary shaped like a Google API key: tests assert it never leaks anywhere."""

LaunchGemini = Callable[..., Awaitable[tuple[GeminiEmulator, GeminiProvider]]]


@pytest.fixture
def launch_gemini(opened: Opened) -> LaunchGemini:
    """Start an emulator with `faults` and a provider for it; both are closed afterwards."""

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
        await opened.emulator(emulator)
        settings = GeminiOptions(
            api_key=Secret(key),
            base_url=emulator.base_url,
            backoff_initial_s=0.01,
            backoff_max_s=0.02,
            **options,  # type: ignore[arg-type]
        )
        return emulator, GeminiProvider(settings, opened.session(create_session(settings)))

    return launch


@pytest.fixture
def gemini_key() -> str:
    """The key `launch_gemini` configures on both sides."""
    return GEMINI_KEY
