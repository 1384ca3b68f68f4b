"""Off-peak windows: when a held run may start, across midnight, inside the window, and when
its deadline will not wait for the opening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from batchery.windows import Hold, Window, hold_for_window

NIGHT = Window.parse("01:00-05:00")
LATE = Window.parse("22:00-04:00")
"""Wraps past midnight."""


def at(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_a_window_reads_as_utc_times_of_day() -> None:
    assert Window(60, 300) == NIGHT
    assert Window(22 * 60, 4 * 60) == LATE
    assert Window.parse("23:30-24:00") == Window(23 * 60 + 30, 0)
    assert str(NIGHT) == "01:00-05:00 UTC"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1-5", "is not a window like 01:00-05:00"),
        ("01:00", "is not a window like"),
        ("25:00-05:00", "does not exist"),
        ("01:60-05:00", "does not exist"),
        ("24:30-05:00", "does not exist"),
        ("03:00-03:00", "opens and closes at the same time"),
    ],
)
def test_a_malformed_window_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Window.parse(text)


def test_before_the_window_the_run_waits_for_todays_opening() -> None:
    hold = hold_for_window(NIGHT, now=at(0, 30))

    assert hold.delay_s == 30 * 60
    assert hold.note == "held for the window 01:00-05:00 UTC: starts at 2026-12-03 01:00 UTC"


def test_after_the_window_the_run_waits_for_tomorrows_opening() -> None:
    assert hold_for_window(NIGHT, now=at(14)).delay_s == 11 * 3600


def test_inside_the_window_the_run_starts_now() -> None:
    assert hold_for_window(NIGHT, now=at(3, 15)) == Hold(0.0)
    assert hold_for_window(NIGHT, now=at(1)) == Hold(0.0)


def test_the_window_closes_at_its_end() -> None:
    assert hold_for_window(NIGHT, now=at(5)).delay_s == 20 * 3600


def test_a_window_past_midnight_is_open_on_both_sides_of_it() -> None:
    assert hold_for_window(LATE, now=at(23, 30)) == Hold(0.0)
    assert hold_for_window(LATE, now=at(2, 0)) == Hold(0.0)
    assert hold_for_window(LATE, now=at(4, 0)).delay_s == 18 * 3600
    assert hold_for_window(LATE, now=at(21, 0)).delay_s == 3600


def test_a_deadline_that_outlasts_the_wait_keeps_the_window() -> None:
    hold = hold_for_window(NIGHT, now=at(22), deadline_s=12 * 3600, needed_s=2 * 3600)

    assert hold.delay_s == 3 * 3600


def test_a_deadline_the_wait_would_miss_starts_the_run_now_and_says_so() -> None:
    hold = hold_for_window(NIGHT, now=at(22), deadline_s=4 * 3600, needed_s=2 * 3600)

    assert hold.delay_s == 0
    assert hold.note == (
        "starting now, outside the window 01:00-05:00 UTC: waiting for its opening at"
        " 2026-12-04 01:00 UTC would miss the deadline"
    )


def test_the_deadline_counts_the_time_the_run_needs_after_the_opening() -> None:
    just = hold_for_window(NIGHT, now=at(22), deadline_s=5 * 3600, needed_s=2 * 3600)
    over = hold_for_window(NIGHT, now=at(22), deadline_s=5 * 3600, needed_s=2 * 3600 + 1)

    assert just.delay_s == 3 * 3600
    assert over.delay_s == 0


def test_not_before_moves_the_search_for_an_opening() -> None:
    after_tonight = hold_for_window(NIGHT, now=at(0, 30), earliest_s=5 * 3600)
    inside = hold_for_window(NIGHT, now=at(0, 30), earliest_s=3600)

    assert after_tonight.delay_s == timedelta(hours=24, minutes=30).total_seconds()
    assert inside == Hold(3600.0)


def test_a_deadline_missed_after_not_before_starts_at_not_before() -> None:
    hold = hold_for_window(NIGHT, now=at(20), earliest_s=3600, deadline_s=3 * 3600)

    assert hold.delay_s == 3600
    assert hold.note is not None
    assert hold.note.startswith("starting at 2026-12-03 21:00 UTC, outside the window")


def test_a_window_is_in_utc_whatever_zone_the_time_is_given_in() -> None:
    half_past_one_in_paris = datetime(2026, 12, 3, 1, 30, tzinfo=timezone(timedelta(hours=1)))

    assert hold_for_window(NIGHT, now=half_past_one_in_paris).delay_s == 30 * 60
