"""Durations and start times as people write them (`30m`, `6h`, `2026-12-03T01:00:00Z`), read
alike by the command line and the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = ["delay_s", "duration_s"]

_UNITS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(text: str) -> float:
    """Seconds in `90`, `90s`, `30m`, `6h` or `1d`; `ValueError` says what a duration is."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:])
    number = value[:-1] if unit is not None else value
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 6h or 1d") from None
    if seconds == float("inf"):
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 6h or 1d")
    if not seconds > 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def delay_s(text: str, *, now: datetime | None = None) -> float:
    """Seconds from `now` until a time (ISO 8601, UTC unless it names a zone), or a duration;
    a time already past is no delay."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return duration_s(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)
