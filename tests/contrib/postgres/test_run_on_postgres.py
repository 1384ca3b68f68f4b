"""`batchery run --store postgresql://…` end to end: real processes, a `batchery emulate
openai` process over HTTP, and PostgreSQL. The run completes; running it again finds every
answer stored and sends the provider nothing; the URL's password appears in no log line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from batchery.testing import emulator_process
from openai import OpenAI

KEY = "sk-test-postgres-run"
REQUESTS = 60
PASSWORD = "pg-word-never-shown"
"""Put in the store URL; the local PostgreSQL trusts 127.0.0.1 and never asks for it."""


def _batchery(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchery", *args]


@pytest.fixture
def emulator_url() -> Iterator[str]:
    with emulator_process("openai", "--time-scale", "200") as base_url:
        yield base_url


def _asked(base_url: str) -> tuple[int, int]:
    """(batch input files uploaded, batches created), as the emulator saw them."""
    with OpenAI(base_url=base_url, api_key=KEY, max_retries=0) as client:
        files = [f for f in client.files.list() if f.purpose == "batch"]
        return len(files), len(client.batches.list(limit=100).data)


def _run(workload: Path, base_url: str, store: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
    env |= {
        "OPENAI_API_KEY": KEY,
        "BATCHERY_STORE": store,
        "BATCHERY_POLL_INTERVAL_S": "0.1",
        "BATCHERY_POLL_MAX_INTERVAL_S": "0.2",
    }
    return subprocess.run(
        _batchery(
            "-vv",
            "--log-file",
            str(out.with_suffix(".log")),
            "run",
            str(workload),
            "--provider",
            "openai",
            "--mode",
            "batch",
            "--base-url",
            base_url,
            "--out",
            str(out),
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_a_run_on_postgresql_completes_and_a_rerun_sends_nothing(
    tmp_path: Path, emulator_url: str, postgres_url: str
) -> None:
    workload = tmp_path / "requests.jsonl"
    lines = (
        {
            "custom_id": f"item-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Say {i}"}]},
        }
        for i in range(REQUESTS)
    )
    workload.write_text("".join(json.dumps(line) + "\n" for line in lines))

    store = postgres_url.replace("@127.0.0.1", f":{PASSWORD}@127.0.0.1", 1)

    first = _run(workload, emulator_url, store, tmp_path / "first.jsonl")

    assert first.returncode == 0, first.stderr
    answers = [json.loads(line) for line in (tmp_path / "first.jsonl").read_text().splitlines()]
    assert sorted(a["custom_id"] for a in answers) == sorted(f"item-{i}" for i in range(REQUESTS))
    assert all(a["ok"] for a in answers)
    asked = _asked(emulator_url)
    assert asked == (1, 1)
    with psycopg.connect(postgres_url) as conn:
        jobs = conn.execute("SELECT status, owner FROM jobs").fetchall()
        stored = conn.execute("SELECT count(*) FROM results").fetchone()
    assert jobs == [("completed", None)]
    assert stored == (REQUESTS,)

    again = _run(workload, emulator_url, store, tmp_path / "again.jsonl")

    assert again.returncode == 0, again.stderr
    assert _asked(emulator_url) == asked
    assert len((tmp_path / "again.jsonl").read_text().splitlines()) == REQUESTS
    logs = [(tmp_path / f"{tag}.log").read_text() for tag in ("first", "again")]
    assert "openai.batch.created" in logs[0]
    assert PASSWORD not in "".join([first.stderr, again.stderr, *logs])
