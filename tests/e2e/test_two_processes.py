"""Two `batchery run` processes on one store and one job: exactly one drives, the other follows.

The emulator is its own `batchery emulate` process, so what it was asked for (files uploaded,
batches created) is counted where it happened, not where a process believes it happened.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time

import pytest
from batchery.cli._exit import ExitCode

from .conftest import Shells, batchery

CHUNKS = 3
IDS = sorted(f"item-{i}" for i in range(120))


def _one_job_one_story(shells: Shells) -> None:
    """One job, one set of batches, and nothing logged after the run finished."""
    jobs = shells.jobs()
    assert len(jobs) == 1
    assert shells.asked() == (CHUNKS, CHUNKS)
    events = shells.events(jobs[0][0])
    assert events.count("run_finished") == 1
    assert events[-1] == "run_finished"


@pytest.mark.parametrize("offset_s", [0.0, 0.03, 0.07, 0.1])
def test_the_same_command_twice_makes_one_job_and_one_set_of_batches(
    offset_s: float, shells: Shells
) -> None:
    first = shells.run("a")
    time.sleep(offset_s)
    second = shells.run("b")
    codes = (first.wait(timeout=120), second.wait(timeout=120))
    said = [shells.stderr("a"), shells.stderr("b")]

    assert codes == (ExitCode.OK, ExitCode.OK), said
    assert not any("Traceback" in text for text in said), said
    assert sum("is being driven by" in text for text in said) <= 1
    _one_job_one_story(shells)
    for tag in "ab":
        assert sorted(str(r["custom_id"]) for r in shells.results(tag)) == IDS


@pytest.mark.parametrize("emulator_options", [["--time-scale", "8"]])
def test_a_second_process_follows_the_live_driver_and_says_so_once(shells: Shells) -> None:
    """At 8x the batches take 7.5 s, so the second process surely finds the first driving."""
    first = shells.run("a")
    assert shells.wait_for(lambda: shells.asked()[1] >= 1)
    second = shells.run("b")
    codes = (first.wait(timeout=120), second.wait(timeout=120))
    follower = shells.stderr("b")

    assert codes == (ExitCode.OK, ExitCode.OK)
    held = [line for line in follower.splitlines() if "is being driven by" in line]
    assert len(held) == 1
    assert held[0].endswith(f":{first.pid} since {held[0].split(' since ')[1]}")
    assert held[0].endswith("; following it")
    assert f"{shells.jobs()[0][0]} completed: 120 succeeded" in follower
    _one_job_one_story(shells)


def test_a_driver_paused_past_its_lease_stops_without_calling_or_writing(shells: Shells) -> None:
    first = shells.run("a")
    assert shells.wait_for(lambda: shells.asked()[1] >= 1)
    shells.pause_between_writes(first)
    try:
        time.sleep(3.5)
        second = shells.run("b")
        took_over = f":{second.pid}:"
        shells.wait_for(lambda: any(took_over in (j[2] or "") for j in shells.jobs()), within_s=5)
    finally:
        first.send_signal(signal.SIGCONT)
    codes = (first.wait(timeout=120), second.wait(timeout=120))
    paused = shells.stderr("a")

    assert codes == (ExitCode.HELD_ELSEWHERE, ExitCode.OK), paused.splitlines()[-3:]
    assert "Traceback" not in paused
    assert "lease on the job expired or was taken over" in paused.splitlines()[-1]
    _one_job_one_story(shells)
    assert sorted(str(r["custom_id"]) for r in shells.results("b")) == IDS


def test_a_store_another_process_keeps_locked_is_reported_in_one_line(shells: Shells) -> None:
    made = subprocess.run(
        batchery("jobs", "list", "--store", str(shells.db)), env=shells.env(), check=False
    )
    assert made.returncode == ExitCode.OK
    stopped_writer = sqlite3.connect(shells.db, isolation_level=None)
    try:
        stopped_writer.execute("BEGIN IMMEDIATE")
        code = shells.run("a", BATCHERY_STORE_BUSY_TIMEOUT_S="0.5").wait(timeout=60)
    finally:
        stopped_writer.close()
    said = shells.stderr("a")

    assert code == ExitCode.ENVIRONMENT, said
    assert "Traceback" not in said
    assert said.splitlines()[-1] == (
        f"error: the job store {shells.db} stayed busy for 0.5s (another process holds its"
        " write lock); try again, or raise store_busy_timeout_s"
    )
    assert shells.asked() == (0, 0)
