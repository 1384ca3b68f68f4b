"""Two `batchery run` processes on one store and one job: exactly one drives, the other follows.

The emulator is its own `batchery emulate` process, so what it was asked for (files uploaded,
batches created) is counted where it happened, not where a process believes it happened.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

REQUESTS = 120
PER_BATCH = 50
CHUNKS = 3
KEY = "sk-test-two-processes"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchery", *args]


@pytest.fixture
def emulator() -> Iterator[str]:
    proc = subprocess.Popen(
        _cli("emulate", "openai", "--time-scale", "40"), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), first
        yield first.removeprefix("listening on ") + "/v1"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    lines = (
        {
            "custom_id": f"item-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Say {i}"}]},
        }
        for i in range(REQUESTS)
    )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    return env | {
        "OPENAI_API_KEY": KEY,
        "BATCHERY_MAX_REQUESTS_PER_BATCH": str(PER_BATCH),
        "BATCHERY_POLL_INTERVAL_S": "0.1",
        "BATCHERY_POLL_MAX_INTERVAL_S": "0.3",
        "BATCHERY_RECONCILE_GRACE_S": "0.2",
        "BATCHERY_LEASE_S": "3",
        "BATCHERY_HEARTBEAT_S": "0.5",
        "BATCHERY_LOG_FORMAT": "json",
        **extra,
    }


def _run_args(workload: Path, base_url: str, tmp_path: Path, mode: str, tag: str) -> list[str]:
    return _cli(
        "run",
        str(workload),
        "--provider",
        "openai",
        "--mode",
        mode,
        "--base-url",
        base_url,
        "--store",
        str(tmp_path / "jobs.db"),
        "--out",
        str(tmp_path / f"out-{tag}.jsonl"),
    )


def _start(args: list[str], tmp_path: Path, tag: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        env=_env(**env),
        stdout=(tmp_path / f"{tag}.stdout").open("wb"),
        stderr=(tmp_path / f"{tag}.stderr").open("wb"),
    )


def _asked(base_url: str) -> tuple[int, int]:
    """(batch input files uploaded, batches created), as the emulator saw them."""
    with OpenAI(base_url=base_url, api_key=KEY, max_retries=0) as client:
        files = [f for f in client.files.list() if f.purpose == "batch"]
        return len(files), len(client.batches.list(limit=100).data)


def _store_facts(db: Path) -> tuple[int, list[str]]:
    """(jobs in the store, the event types of the one job in order)."""
    with sqlite3.connect(db) as conn:
        jobs = [row[0] for row in conn.execute("SELECT id FROM jobs")]
        events = [
            json.loads(row[0])["type"]
            for row in conn.execute(
                "SELECT body FROM events WHERE job_id = ? ORDER BY seq", (jobs[0],)
            )
        ]
    return len(jobs), events


def _ids(path: Path) -> list[str]:
    return sorted(json.loads(line)["custom_id"] for line in path.read_text().splitlines())


@pytest.mark.parametrize("offset_s", [0.0, 0.03, 0.07, 0.1])
def test_the_same_batch_command_twice_makes_one_job_and_one_set_of_batches(
    offset_s: float, emulator: str, workload: Path, tmp_path: Path
) -> None:
    first = _start(_run_args(workload, emulator, tmp_path, "batch", "a"), tmp_path, "a")
    time.sleep(offset_s)
    second = _start(_run_args(workload, emulator, tmp_path, "batch", "b"), tmp_path, "b")
    codes = (first.wait(timeout=120), second.wait(timeout=120))
    stderr = [(tmp_path / f"{tag}.stderr").read_text() for tag in "ab"]

    assert codes == (0, 0), stderr
    assert not any("Traceback" in text for text in stderr), stderr
    assert sum("is being driven by" in text for text in stderr) <= 1
    jobs, events = _store_facts(tmp_path / "jobs.db")
    assert jobs == 1
    assert _asked(emulator) == (CHUNKS, CHUNKS)
    assert events.count("run_finished") == 1
    assert events[-1] == "run_finished"
    expected = sorted(f"item-{i}" for i in range(REQUESTS))
    assert _ids(tmp_path / "out-a.jsonl") == _ids(tmp_path / "out-b.jsonl") == expected
