"""`batchery submit`: the file is checked as `batchery run` checks it, the run is stored and
queued, and one idempotency key always names one run."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
from batchery import work_queue
from batchery.cli import cli
from batchery.cli._errors import run_cli
from batchery.cli._exit import ExitCode
from batchery.cli.submit import not_before_delay

from .conftest import Queue


def test_one_idempotency_key_makes_one_run_and_one_queue_entry(queue: Queue) -> None:
    first, again, other = queue.all_submitted(
        [
            ("--idempotency-key", "nightly-2026-12-03"),
            ("--idempotency-key", "nightly-2026-12-03", "--priority", "9"),
            ("--idempotency-key", "nightly-2026-12-04"),
        ]
    )

    assert again == first
    assert other != first
    assert sorted(str(row[0]) for row in queue.rows("SELECT id FROM jobs")) == sorted(
        [first, other]
    )
    assert sorted(queue.queued()) == sorted([(first, "queued"), (other, "queued")])
    assert queue.batches_created() == 0


def test_a_file_run_would_refuse_is_refused_and_nothing_is_stored(queue: Queue) -> None:
    bad = queue.root / "bad.jsonl"
    lines = queue.workload.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["body"]["messages"] = "not a list"
    bad.write_text("\n".join([lines[0], json.dumps(broken), "{not json", *lines[2:]]) + "\n")

    done = queue.submit(workload=bad)

    assert done.returncode == ExitCode.USAGE, done.stderr
    assert done.stdout == ""
    said = done.stderr.splitlines()
    assert said[0].startswith(f"{bad}: line 2")
    assert said[1].startswith(f"{bad}: line 3")
    assert "Traceback" not in done.stderr
    tables = queue.rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    assert ("jobs",) not in tables or queue.rows("SELECT count(*) FROM jobs") == [(0,)]


def test_submit_refuses_a_sqlite_store_in_one_line(queue: Queue) -> None:
    done = queue.submit("--store", str(queue.root / "jobs.db"))

    assert done.returncode == ExitCode.USAGE
    assert done.stderr.strip() == (
        "error: batchery submit: the work queue needs a PostgreSQL store: pass --store postgresql://…"
    )


def test_not_before_is_a_duration_or_a_time() -> None:
    now = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)

    assert not_before_delay("30m", now=now) == 1800
    assert not_before_delay("2026-12-03T16:30:00", now=now) == 9000
    assert not_before_delay("2026-12-03T16:30:00+02:00", now=now) == 1800
    assert not_before_delay("2026-12-03T13:00:00Z", now=now) == 0


def test_a_queue_command_without_its_package_names_the_package(
    queue: Queue, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(work_queue.metadata, "entry_points", lambda **_: [])
    argv = ["batchery", "submit", str(queue.workload), "--store", queue.store]
    monkeypatch.setattr(sys, "argv", argv)

    code = run_cli(cli)

    assert code == ExitCode.USAGE
    assert capsys.readouterr().err == (
        "error: batchery submit: the work queue needs the batchery-queue package:"
        " uv add batchery-queue\n"
    )


def test_a_key_used_again_for_another_workload_is_refused(queue: Queue) -> None:
    first = queue.submitted("--idempotency-key", "weekly")
    other = queue.write_workload("other.jsonl", 11)

    done = queue.submit("--idempotency-key", "weekly", workload=other)

    assert done.returncode == ExitCode.USAGE
    assert done.stderr.strip() == (
        f"error: batchery submit: the idempotency key 'weekly' already names run {first},"
        " made from a different workload"
    )
    assert queue.rows("SELECT count(*) FROM jobs") == [(1,)]


def _window_opening_in(hours: int) -> str:
    opens = datetime.now(UTC) + timedelta(hours=hours)
    return f"{opens:%H}:00-{(opens + timedelta(hours=1)):%H}:00"


def _held_for_s(queue: Queue, run_id: str) -> float:
    (held,) = queue.rows(
        "SELECT extract(epoch FROM execute_after - now()) FROM pgqueuer WHERE dedupe_key = %s",
        run_id,
    )[0]
    return float(str(held))


def test_a_window_holds_the_run_until_it_opens(queue: Queue) -> None:
    done = queue.submit("--window", _window_opening_in(3), workload=queue.small)

    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert f"{run_id}: held for the window" in done.stderr
    assert 2 * 3600 <= _held_for_s(queue, run_id) <= 3 * 3600


def test_a_window_that_would_miss_the_deadline_starts_now_and_says_so(queue: Queue) -> None:
    done = queue.submit("--window", _window_opening_in(3), "--deadline", "2h", workload=queue.small)

    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert f"{run_id}: starting now, outside the window" in done.stderr
    assert "would miss the deadline" in done.stderr
    assert _held_for_s(queue, run_id) <= 1


def test_a_malformed_window_is_a_usage_error(queue: Queue) -> None:
    done = queue.submit("--window", "1am-5am")

    assert done.returncode == ExitCode.USAGE
    assert "'1am-5am' is not a window like 01:00-05:00 (UTC)" in done.stderr
