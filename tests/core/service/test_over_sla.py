"""When a batch counts as late: relative to what it was expected to take, never to noise."""

from __future__ import annotations

from batchery.cli._progress import describe
from batchery.events import OverSla
from batchery.service.batch_progress import over_sla_after


def test_a_long_batch_is_late_at_twice_its_expected_turnaround() -> None:
    assert over_sla_after(3 * 3600.0, poll_max_interval_s=60.0) == 6 * 3600.0


def test_a_seconds_long_batch_is_not_late_within_one_poll_gap() -> None:
    """Reproduced: 'has been in_progress for 5s' on a healthy emulated batch expected in 2s."""
    threshold = over_sla_after(2.0, poll_max_interval_s=60.0)

    assert threshold == 62.0
    assert threshold > 5.0


def test_the_warning_says_how_long_it_was_expected_to_take() -> None:
    event = OverSla(
        run_id="run_1",
        seq=1,
        ts=0.0,
        chunk=0,
        batch_id="batch_a",
        phase="in_progress",
        age_s=7500.0,
        expected_s=3600.0,
    )

    assert describe(event) == (
        "run_1 chunk 0 (batch_a) has been in_progress for 2h 5m, longer than expected "
        "(about 60m); still waiting for it"
    )
