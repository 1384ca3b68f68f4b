"""What operators need: health, and 500s that are logged in full but answered in one word."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from batchery.server.wire import Health

__all__ = ["HealthCheck", "health", "internal_error"]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("batchery.server")

Probe = Callable[[], Awaitable[object]]


class HealthCheck:
    """Probes the job store and the channels backend, each within `timeout_s`."""

    def __init__(self, store: Probe, channels: Probe | None, *, timeout_s: float = 2.0) -> None:
        self._store = store
        self._channels = channels
        self._timeout_s = timeout_s

    async def _ok(self, probe: Probe | None) -> bool:
        if probe is None:
            return True
        try:
            async with asyncio.timeout(self._timeout_s):
                await probe()
        except Exception:
            _log.warning("health probe failed", exc_info=True)
            return False
        return True

    async def check(self) -> Health:
        store, channels = await asyncio.gather(self._ok(self._store), self._ok(self._channels))
        return Health(
            status="ok" if store and channels else "degraded", store=store, channels=channels
        )


@get("/health", summary="Liveness and readiness", tags=["ops"], cache_control=None)
async def health(health_check: NamedDependency[HealthCheck]) -> Response[Health]:
    result = await health_check.check()
    status = HTTP_200_OK if result.status == "ok" else HTTP_503_SERVICE_UNAVAILABLE
    return Response(result, status_code=status)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    """Log the failure with the route's template (never the raw path) and answer generically."""
    route = request.scope.get("path_template") or "?"
    _log.error("request failed", route=route, method=request.method, exc_info=exc)
    return Response({"status_code": 500, "detail": "internal error"}, status_code=500)
