"""`batchery jobs cancel ID` from a second shell stops the run another process drives.

The cancel is only recorded in the store; the driver sees it at its next heartbeat, cancels
its batches, keeps what they finished, marks the rest cancelled and exits with CANCELLED.
"""

from __future__ import annotations

import subprocess

import pytest
from batchery.cli._exit import ExitCode

from .conftest import Shells, batchery


@pytest.fixture
def emulator_options() -> list[str]:
    """Slow enough that batches are still running when the second shell cancels (7.5 s)."""
    return ["--time-scale", "8"]


def _cancel(shells: Shells, job_id: str) -> subprocess.CompletedProcess[str]:
    """`batchery jobs cancel JOB_ID` from another shell: only the store, no base URL."""
    return subprocess.run(
        batchery("jobs", "cancel", job_id, "--store", str(shells.db)),
        env=shells.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_cancel_from_another_shell_ends_the_driven_run_cancelled(shells: Shells) -> None:
    driver = shells.run("a")
    assert shells.wait_for(lambda: shells.asked()[1] >= 1)
    job_id = shells.jobs()[0][0]

    cancel = _cancel(shells, job_id)
    code = driver.wait(timeout=120)
    said = shells.stderr("a")

    assert cancel.returncode == ExitCode.OK, cancel.stderr
    assert cancel.stdout.startswith(f"{job_id}: cancel requested; ")
    assert f":{driver.pid}, which drives it" in cancel.stdout
    assert code == ExitCode.CANCELLED, said
    assert "Traceback" not in said
    assert f"{job_id} cancelled:" in said
    assert shells.jobs()[0][1] == "cancelled"
    results = shells.results("a")
    assert sorted(str(r["custom_id"]) for r in results) == sorted(f"item-{i}" for i in range(120))
    errors = {str(r["error"]["code"]) for r in results if not r["ok"]}  # type: ignore[index]
    assert errors
    assert errors <= {"batch_cancelled", "cancelled"}


@pytest.mark.parametrize("emulator_options", [["--time-scale", "40", "--latency", "0.5"]])
def test_a_cancel_from_another_shell_stops_a_realtime_run_calling(shells: Shells) -> None:
    """Four calls at a time of 0.5 s each: the 120 requests would take 15 s."""
    driver = shells.run("a", "realtime", BATCHERY_REALTIME_CONCURRENCY="4")
    assert shells.wait_for(lambda: any(owner for _, _, owner in shells.jobs()))
    job_id = shells.jobs()[0][0]

    cancel = _cancel(shells, job_id)
    code = driver.wait(timeout=120)

    assert cancel.returncode == ExitCode.OK, cancel.stderr
    assert code == ExitCode.CANCELLED, shells.stderr("a")
    assert "Traceback" not in shells.stderr("a")
    results = shells.results("a")
    assert sorted(str(r["custom_id"]) for r in results) == sorted(f"item-{i}" for i in range(120))
    cancelled = [r for r in results if not r["ok"]]
    assert cancelled
    assert {str(r["error"]["code"]) for r in cancelled} == {"cancelled"}  # type: ignore[index]
