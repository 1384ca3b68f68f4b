"""Shells for the multi-process tests: a `batchery emulate openai` process and `batchery run`
processes started beside it on one job store, with what each said and what the emulator saw."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openai import OpenAI

KEY = "sk-test-shells"


def batchery(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchery", *args]


class Shells:
    """`batchery` processes on one store (`jobs.db`) against one emulator process.

    Each process started with a tag writes `TAG.stderr` and `out-TAG.jsonl` under `root`.
    Leases are short (3 s, renewed every 0.5 s) so a test can outwait one.
    """

    def __init__(self, root: Path, base_url: str, workload: Path) -> None:
        self.root = root
        self.base_url = base_url
        self.workload = workload
        self.db = root / "jobs.db"
        self.started: list[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
        return env | {
            "OPENAI_API_KEY": KEY,
            "BATCHERY_MAX_REQUESTS_PER_BATCH": "50",
            "BATCHERY_POLL_INTERVAL_S": "0.1",
            "BATCHERY_POLL_MAX_INTERVAL_S": "0.3",
            "BATCHERY_RECONCILE_GRACE_S": "0.2",
            "BATCHERY_LEASE_S": "3",
            "BATCHERY_HEARTBEAT_S": "0.5",
            "BATCHERY_LOG_FORMAT": "json",
            **extra,
        }

    def run(self, tag: str, mode: str = "batch", **env: str) -> subprocess.Popen[bytes]:
        """Start `batchery run WORKLOAD` on the shared store."""
        return self.start(
            tag,
            "run",
            str(self.workload),
            "--provider",
            "openai",
            "--mode",
            mode,
            "--base-url",
            self.base_url,
            "--store",
            str(self.db),
            "--out",
            str(self.root / f"out-{tag}.jsonl"),
            **env,
        )

    def start(self, tag: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{tag}.stderr").open("wb") as err:
            proc = subprocess.Popen(
                batchery(*args), env=self.env(**env), stdout=subprocess.DEVNULL, stderr=err
            )
        self.started.append(proc)
        return proc

    def pause_between_writes(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGSTOP `proc` at a moment it holds no write transaction on the store.

        These tests are about a paused driver's lease, not its lock: a process stopped inside a
        transaction blocks every writer until it runs again, which the busy-store test covers.
        """
        for _ in range(1000):
            proc.send_signal(signal.SIGSTOP)
            probe = sqlite3.connect(self.db, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return
            except sqlite3.OperationalError:
                proc.send_signal(signal.SIGCONT)
                time.sleep(0.005)
            finally:
                probe.close()
        raise AssertionError("the process never left its write transaction")

    def stop_all(self) -> None:
        """Kill what a failed test left running (paused ones included), so nothing outlives it."""
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    @staticmethod
    def wait_for(condition: Callable[[], bool], *, within_s: float = 60.0) -> bool:
        """Whether `condition` came true within `within_s` (a bound for a hang, not a speed)."""
        deadline = time.monotonic() + within_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stderr(self, tag: str) -> str:
        return (self.root / f"{tag}.stderr").read_text()

    def asked(self) -> tuple[int, int]:
        """(batch input files uploaded, batches created), as the emulator saw them."""
        with OpenAI(base_url=self.base_url, api_key=KEY, max_retries=0) as client:
            files = [f for f in client.files.list() if f.purpose == "batch"]
            return len(files), len(client.batches.list(limit=100).data)

    def jobs(self) -> list[tuple[str, str, str | None]]:
        """(id, status, lease owner) of every job in the store."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                return list(conn.execute("SELECT id, status, owner FROM jobs"))
            except sqlite3.OperationalError:
                return []

    def events(self, job_id: str) -> list[str]:
        """The job's event types, in log order."""
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT body FROM events WHERE job_id = ? ORDER BY seq", (job_id,))
            return [json.loads(row[0])["type"] for row in rows]

    def results(self, tag: str) -> list[dict[str, object]]:
        lines = (self.root / f"out-{tag}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture
def emulator_options() -> list[str]:
    """`batchery emulate openai` options; at 40x a batch of 50 takes 1.5 s."""
    return ["--time-scale", "40"]


@pytest.fixture
def emulator_url(emulator_options: list[str]) -> Iterator[str]:
    proc = subprocess.Popen(
        batchery("emulate", "openai", *emulator_options), stdout=subprocess.PIPE, text=True
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
def shells(tmp_path: Path, emulator_url: str) -> Iterator[Shells]:
    """120 chat requests (three batches of 50, 50 and 20) and the shells to run them."""
    workload = tmp_path / "requests.jsonl"
    lines = (
        {
            "custom_id": f"item-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Say {i}"}]},
        }
        for i in range(120)
    )
    workload.write_text("".join(json.dumps(line) + "\n" for line in lines))
    opened = Shells(tmp_path, emulator_url, workload)
    try:
        yield opened
    finally:
        opened.stop_all()
