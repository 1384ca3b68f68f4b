"""`batchery demo` as a user meets it: the pipeline runs in batch mode and its closing table
adds up.

The figures in the closing table are checked against each other and against the job store the
demo wrote, so a table that merely looks right cannot pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from batchery.model import Mode
from batchery.store import open_store

POLICY_CHOSE_BATCH = re.compile(
    r"^(infer-atoms|verify) ran in batch mode: \d+ requests >= batch threshold \d+ and no"
    r" deadline: batch is cheapest$"
)


def _demo(store: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHERY_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "batchery", "demo", "--store", str(store)],
        env=env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _row(lines: list[str], name: str) -> list[str]:
    rows = [line.split() for line in lines if line.split()[:1] == [name] and "$" in line]
    assert len(rows) == 1, lines
    return rows[0]


def _usd(cell: str) -> float:
    assert cell.startswith("$"), cell
    return float(cell[1:])


async def test_the_demo_runs_the_pipeline_in_batch_mode_and_its_table_adds_up(
    tmp_path: Path,
) -> None:
    store = tmp_path / "jobs.db"
    done = _demo(store)

    assert done.returncode == 0, done.stderr[-4000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert "node verify finished" in done.stderr
    infer, verify = _row(lines, "infer-atoms"), _row(lines, "verify")
    assert infer[1:3] == ["batch", "48"]
    assert verify[1] == "batch"
    assert verify[2] == infer[3]
    for row in (infer, verify):
        failed, retried, cached, batches = (int(cell) for cell in row[4:8])
        assert (failed, cached) == (0, 0)
        assert batches >= 1
        assert retried >= 0
        assert _usd(row[10]) == pytest.approx(_usd(row[9]) - _usd(row[8]), abs=2e-6)
    total = _row(lines, "total")
    cost, realtime, saved = (_usd(cell) for cell in total[1:4])
    assert cost == pytest.approx(_usd(infer[8]) + _usd(verify[8]), abs=2e-6)
    assert realtime == pytest.approx(_usd(infer[9]) + _usd(verify[9]), abs=2e-6)
    assert saved == pytest.approx(realtime - cost, abs=2e-6)
    assert total[4] == "(50%)"
    assert sum(bool(POLICY_CHOSE_BATCH.match(line)) for line in lines) == 2

    kept = re.search(r"^atoms kept: (\d+) of (\d+) \((\d+) rejected, (\d+) unscored\)", lines[-1])
    assert kept is not None, lines[-1]
    kept_n, found, rejected, unscored = (int(g) for g in kept.groups())
    assert found == int(infer[3])
    assert kept_n + rejected == int(verify[3])
    assert kept_n + rejected + unscored == found
    assert 0 < kept_n < found

    jobs = open_store(str(store))
    await jobs.open()
    try:
        stored = await jobs.list_jobs()
        counts = [await jobs.counts(job.id) for job in stored]
    finally:
        await jobs.close()
    assert stored
    assert all(job.id.startswith("demo-") and job.mode is Mode.BATCH for job in stored)
    assert sum(c.cost_usd for c in counts) == pytest.approx(cost, abs=2e-6)
    assert sum(c.realtime_cost_usd for c in counts) == pytest.approx(realtime, abs=2e-6)
    assert sum(c.total for c in counts) == int(infer[2]) + int(verify[2]) + int(infer[5]) + int(
        verify[5]
    )
