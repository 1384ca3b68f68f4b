"""Kill `batchery run` at its riskiest moments; the same command again finishes the job.

The emulator runs in its own process (as `batchery emulate`), so it outlives the crashed run
and can say how many batches it was really asked for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from batchery.testing import emulator_process
from openai import OpenAI

REQUESTS = 120
PER_BATCH = 50
CHUNKS = 3


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchery", *args]


@pytest.fixture
def emulator() -> Iterator[str]:
    with emulator_process("openai", "--time-scale", "40") as base_url:
        yield base_url


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    with path.open("w") as handle:
        for i in range(REQUESTS):
            handle.write(
                json.dumps(
                    {
                        "custom_id": f"item-{i}",
                        "method": "POST",
                        "url": "/v1/chat/completions",
                        "body": {
                            "model": "gpt-4o-mini",
                            "messages": [{"role": "user", "content": f"Say {i}"}],
                        },
                    }
                )
                + "\n"
            )
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    env |= {
        "OPENAI_API_KEY": "sk-test-crash",
        "BATCHERY_MAX_REQUESTS_PER_BATCH": str(PER_BATCH),
        "BATCHERY_POLL_INTERVAL_S": "0.1",
        "BATCHERY_POLL_MAX_INTERVAL_S": "0.3",
        "BATCHERY_RECONCILE_GRACE_S": "0.2",
        "BATCHERY_LOG_FORMAT": "json",
    }
    return env | extra


def _run_args(workload: Path, base_url: str, tmp_path: Path) -> list[str]:
    return _cli(
        "run",
        str(workload),
        "--provider",
        "openai",
        "--mode",
        "batch",
        "--base-url",
        base_url,
        "--store",
        str(tmp_path / "jobs.db"),
        "--out",
        str(tmp_path / "out.jsonl"),
        "--summary",
        str(tmp_path / "sum.json"),
    )


def _batches(base_url: str) -> list[str]:
    with OpenAI(base_url=base_url, api_key="sk-test-crash", max_retries=0) as client:
        return [batch.id for batch in client.batches.list(limit=100)]


def _finish_and_check(workload: Path, base_url: str, tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        _run_args(workload, base_url, tmp_path),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids = [
        json.loads(line)["custom_id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()
    ]
    assert sorted(ids) == sorted(f"item-{i}" for i in range(REQUESTS))
    assert len(_batches(base_url)) == CHUNKS
    summary: dict[str, object] = json.loads((tmp_path / "sum.json").read_text())
    assert summary["resumed"] is True
    assert summary["succeeded"] == REQUESTS
    return summary


@pytest.mark.parametrize(
    "point",
    [
        "after_intent",
        "after_create_before_link",
        "after_link",
        "before_collect",
        "after_collect_before_mark",
    ],
)
def test_a_crash_at_each_crashpoint_loses_and_repeats_nothing(
    point: str,
    emulator: str,
    workload: Path,
    tmp_path: Path,
) -> None:
    crashed = subprocess.run(
        _run_args(workload, emulator, tmp_path),
        env=_env(BATCHERY_CRASHPOINT=point),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == 137

    _finish_and_check(workload, emulator, tmp_path)


def test_sigkill_after_create_before_collect(
    emulator: str,
    workload: Path,
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        _run_args(workload, emulator, tmp_path),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(_batches(emulator)) < CHUNKS:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert not (tmp_path / "out.jsonl").exists()

    _finish_and_check(workload, emulator, tmp_path)
