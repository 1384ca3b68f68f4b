"""A clock whose emulated time runs `time_scale` times faster than real time.

Provider emulators read "now" from this clock only, so a 24 h batch window can pass in seconds:
with `time_scale=86400` one real second is one emulated day. Emulated time starts at the real
Unix time when the clock is made, so emulated timestamps are never earlier than the caller's own
wall clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

__all__ = ["ScaledClock"]


class ScaledClock:
    """Emulated Unix seconds that advance `time_scale` times faster than the real monotonic clock.

    `advance` jumps emulated time forward without waiting, for tests that need to reach a
    deadline (such as a batch's 24 h expiry) at once.
    """

    def __init__(
        self,
        time_scale: float = 1.0,
        *,
        start: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not math.isfinite(time_scale) or time_scale <= 0:
            raise ValueError(f"time_scale must be a finite number above 0, got {time_scale!r}")
        self._scale = float(time_scale)
        self._monotonic = monotonic
        self._origin_real = monotonic()
        self._origin = time.time() if start is None else float(start)
        self._skipped = 0.0

    @property
    def time_scale(self) -> float:
        return self._scale

    def now(self) -> float:
        """Emulated time in Unix seconds."""
        elapsed = self._monotonic() - self._origin_real
        return self._origin + elapsed * self._scale + self._skipped

    def advance(self, seconds: float) -> None:
        """Move emulated time forward by `seconds` at once."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"can only advance by a finite, non-negative time, got {seconds!r}")
        self._skipped += seconds

    def real_seconds(self, emulated: float) -> float:
        """How long `emulated` seconds of provider time take in real time."""
        return emulated / self._scale

    def emulated_seconds(self, real: float) -> float:
        """How much provider time passes in `real` seconds."""
        return real * self._scale

    async def sleep(self, emulated: float) -> None:
        """Wait until `emulated` seconds of provider time have passed."""
        await asyncio.sleep(max(0.0, self.real_seconds(emulated)))


@asynccontextmanager
async def taking(seconds: float) -> AsyncIterator[None]:
    """Let the enclosed work take `seconds` in all (real time): sleep what it leaves over.

    An emulator's realtime latency is how long after the request the answer comes, with the
    work of making it inside that time, as with a real server; errors take the same time.
    """
    started = time.monotonic()
    try:
        yield
    finally:
        left = started + seconds - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)
