"""Off-peak windows: a daily span of UTC time (`01:00-05:00`) in which a queued run may start.

A run submitted with a window waits for the window's next opening, unless it is inside the
window already, or unless waiting would make it miss its deadline: then it starts as soon as
it may and says why. Pure functions of the time they are given, so every case is testable.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

__all__ = ["Hold", "Window", "hold_for_window"]

_DAY_MIN: Final = 24 * 60
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class Window(msgspec.Struct, frozen=True):
    """From `start_min` to `end_min` minutes past midnight UTC, every day; an end before the
    start wraps past midnight (`22:00-04:00`)."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str) -> Window:
        """`HH:MM-HH:MM` in UTC; `ValueError` says what a window looks like."""
        found = _SPAN.match(text)
        if found is None:
            raise ValueError(f"{text!r} is not a window like 01:00-05:00 (UTC)")
        sh, sm, eh, em = (int(part) for part in found.groups())
        if sh > 23 or eh > 24 or sm > 59 or em > 59 or (eh == 24 and em):
            raise ValueError(f"{text!r} names a time of day that does not exist")
        start, end = sh * 60 + sm, (eh * 60 + em) % _DAY_MIN
        if start == end:
            raise ValueError(f"{text!r} opens and closes at the same time")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start_min // 60:02d}:{self.start_min % 60:02d}-" + (
            f"{self.end_min // 60:02d}:{self.end_min % 60:02d} UTC"
        )

    def contains(self, moment: datetime) -> bool:
        minute = _minute_of_day(moment)
        if self.start_min < self.end_min:
            return self.start_min <= minute < self.end_min
        return minute >= self.start_min or minute < self.end_min

    def next_opening(self, moment: datetime) -> datetime:
        """`moment` itself when the window is open then, else the window's next start."""
        if self.contains(moment):
            return moment
        midnight = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        opening = midnight + timedelta(minutes=self.start_min)
        return opening if opening > moment else opening + timedelta(days=1)


class Hold(msgspec.Struct, frozen=True):
    """How long a run waits before a worker may take it, and why, when a window decided it."""

    delay_s: float
    note: str | None = None


def hold_for_window(
    window: Window,
    *,
    now: datetime,
    earliest_s: float = 0.0,
    deadline_s: float | None = None,
    needed_s: float = 0.0,
) -> Hold:
    """The wait for the window's next opening at or after `earliest_s` from `now`, unless the
    run, needing `needed_s` once started, would then end past `deadline_s` from now."""
    earliest = now + timedelta(seconds=earliest_s)
    opening = window.next_opening(earliest)
    delay_s = (opening - now).total_seconds()
    if opening == earliest:
        return Hold(earliest_s)
    if deadline_s is not None and delay_s + needed_s > deadline_s:
        when = "now" if earliest_s == 0 else f"at {_clock(earliest)}"
        return Hold(
            earliest_s,
            f"starting {when}, outside the window {window}: waiting for its opening at"
            f" {_clock(opening)} would miss the deadline",
        )
    return Hold(delay_s, f"held for the window {window}: starts at {_clock(opening)}")


def _minute_of_day(moment: datetime) -> int:
    utc = moment.astimezone(UTC)
    return utc.hour * 60 + utc.minute


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
