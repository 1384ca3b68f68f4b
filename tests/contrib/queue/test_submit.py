"""`batchery submit`: the file is checked as `batchery run` checks it, the run is stored and
queued, and one idempotency key always names one run."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

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
