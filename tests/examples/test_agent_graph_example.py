"""The agent-graph example runs as its README says and streams the pipeline's events.

It runs in a subprocess with this interpreter, which is the project environment `uv run`
would use, so the test needs no uv and never touches the lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "agent-graph" / "graph.py"


def _example(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHERY_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_the_example_streams_both_nodes_in_batch_mode_and_prints_the_final_state() -> None:
    done = _example("--items", "24", "--time-scale", "200")

    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    kinds = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert kinds[0] == "node_started"
    assert "batch_submitted" in kinds
    finished = [line for line in lines if line.startswith("node_finished")]
    assert len(finished) == 2
    assert "node=infer-atoms" in finished[0]
    assert "node=verify" in finished[1]
    chosen = [line for line in lines if line.startswith("mode_chosen")]
    assert chosen
    assert all("mode=batch" in line and "batch is cheapest" in line for line in chosen)
    assert any(line.startswith("items: 24, atoms: ") for line in lines)
    assert any(line.startswith("verified: ") for line in lines)
    assert any(line.startswith("cost: $") for line in lines)
