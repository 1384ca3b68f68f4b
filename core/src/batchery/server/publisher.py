"""The progress bus's sink on a server: record a new run's owner, then publish its events.

Publishing awaits the channels backend directly instead of going through the plugin's
fire-and-forget queue, whose worker task dies on the first backend error and leaves the queue
to grow. When the backend fails or stalls, publishing pauses for a while: the run never waits
on it, and followers keep getting events from the log, which every feed reads when a run goes
quiet.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import structlog
from litestar.channels import ChannelsPlugin

from batchery.events import RunEvent
from batchery.server import metrics
from batchery.server.feed import channel_of
from batchery.server.owners import RunOwners, acting_tenant

__all__ = ["ChannelsPublisher"]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("batchery.server")

_TIMEOUT_S: Final = 0.25
_PAUSE_S: Final = 5.0


class ChannelsPublisher:
    def __init__(self, channels: ChannelsPlugin, owners: RunOwners) -> None:
        self._channels = channels
        self._owners = owners
        self._paused_until = 0.0

    async def __call__(self, event: RunEvent, body: bytes) -> None:
        tenant = acting_tenant()
        if tenant is not None:
            await self._owners.record(event.run_id, tenant)
        if time.monotonic() < self._paused_until:
            return
        try:
            async with asyncio.timeout(_TIMEOUT_S):
                await self._channels.wait_published(body, channel_of(event.run_id))
        except Exception as exc:
            self._paused_until = time.monotonic() + _PAUSE_S
            metrics.PUBLISH_FAILURES.inc()
            _log.warning(
                "progress publishing paused; followers read the log meanwhile",
                error=type(exc).__name__,
                pause_s=_PAUSE_S,
            )
            return
        metrics.EVENTS_PUBLISHED.inc()
