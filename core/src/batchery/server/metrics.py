"""Prometheus metrics of the progress feed.

prometheus-client keeps one registry per process, so the metrics are created once here and
shared by every app in the process; labels are low-cardinality on purpose (never a run id or a
tenant).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

__all__ = [
    "EVENTS_PUBLISHED",
    "EVENTS_SENT",
    "FRAMES_SENT",
    "PUBLISH_FAILURES",
    "SOCKETS_CLOSED",
    "SOCKETS_OPEN",
    "SOCKETS_REFUSED",
]

SOCKETS_OPEN: Final = Gauge("batchery_ws_connections", "Progress WebSockets open on this instance.")
SOCKETS_REFUSED: Final = Counter(
    "batchery_ws_refused", "Progress WebSockets refused before accept.", ["reason"]
)
SOCKETS_CLOSED: Final = Counter(
    "batchery_ws_closed", "Progress WebSockets closed by the server.", ["reason"]
)
FRAMES_SENT: Final = Counter("batchery_ws_frames_sent", "Frames sent on progress WebSockets.")
EVENTS_SENT: Final = Counter("batchery_ws_events_sent", "Events sent on progress WebSockets.")
EVENTS_PUBLISHED: Final = Counter(
    "batchery_events_published", "Run events published to the channels backend."
)
PUBLISH_FAILURES: Final = Counter(
    "batchery_publish_failures", "Publishes to the channels backend that failed or timed out."
)
