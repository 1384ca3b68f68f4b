"""Real processes for the work queue: a `batchery emulate openai` process, `batchery submit`
and `batchery worker` processes, all on a fresh PostgreSQL schema.

What the provider was asked for is counted at the emulator, over HTTP, so a duplicate batch
shows there whatever the processes believe they did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from batchery.testing import emulator_process
from openai import OpenAI

KEY = "sk-test-queue"
REQUESTS = 120
CHUNKS = 3
"""120 requests at 50 a batch: batches of 50, 50 and 20."""


def batchery(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchery", *args]


class _Submit:
    """A `batchery submit` process under way."""

    def __init__(self, proc: subprocess.Popen[str], command: list[str]) -> None:
        self._proc = proc
        self._command = command

    def wait(self) -> subprocess.CompletedProcess[str]:
        out, err = self._proc.communicate(timeout=60)
        return subprocess.CompletedProcess(self._command, self._proc.returncode, out, err)


class Queue:
    """Submit runs and start workers against one emulator and one PostgreSQL schema."""

    def __init__(self, root: Path, base_url: str, store: str) -> None:
        self.root = root
        self.base_url = base_url
        self.store = store
        self.workload = self.write_workload("requests.jsonl", REQUESTS)
        self.small = self.write_workload("small.jsonl", 10)
        """Ten requests in one batch: for tests about which run goes first, not how it runs."""
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def write_workload(self, name: str, count: int) -> Path:
        lines = (
            {
                "custom_id": f"item-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": f"Say {i}"}],
                },
            }
            for i in range(count)
        )
        path = self.root / name
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHERY_")}
        return env | {
            "OPENAI_API_KEY": KEY,
            "BATCHERY_STORE": self.store,
            "BATCHERY_MAX_REQUESTS_PER_BATCH": "50",
            "BATCHERY_POLL_INTERVAL_S": "0.1",
            "BATCHERY_POLL_MAX_INTERVAL_S": "0.3",
            "BATCHERY_RECONCILE_GRACE_S": "0.2",
            "BATCHERY_LEASE_S": "3",
            "BATCHERY_HEARTBEAT_S": "0.5",
        }

    def submit(self, *args: str, workload: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self._submitting(*args, workload=workload).wait()

    def _submitting(self, *args: str, workload: Path | None = None) -> _Submit:
        command = batchery(
            "submit",
            str(workload or self.workload),
            "--provider",
            "openai",
            "--mode",
            "batch",
            "--base-url",
            self.base_url,
            *args,
        )
        return _Submit(
            subprocess.Popen(
                command,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            command,
        )

    def submitted(self, *args: str, workload: Path | None = None) -> str:
        """Submit and return the run id it printed; a refused submit fails the test."""
        return self.all_submitted([args], workload=workload)[0]

    def all_submitted(
        self, arg_lists: list[tuple[str, ...]], *, workload: Path | None = None
    ) -> list[str]:
        """Submit several runs at once (each its own process); their ids, in the same order."""
        started = [self._submitting(*args, workload=workload) for args in arg_lists]
        ids = []
        for submit in started:
            done = submit.wait()
            assert done.returncode == 0, done.stderr
            ids.append(done.stdout.strip())
        return ids

    def start_worker(
        self, tag: str, *args: str, unset: tuple[str, ...] = ()
    ) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in self.env().items() if k not in unset}
        with (self.root / f"worker-{tag}.err").open("wb") as err:
            worker = subprocess.Popen(
                batchery("worker", "--base-url", self.base_url, *args),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.workers[tag] = worker
        assert self.wait_for(lambda: "ready" in self.said(tag), within_s=30), self.said(tag)
        return worker

    def said(self, tag: str) -> str:
        return (self.root / f"worker-{tag}.err").read_text()

    def claimed(self, tag: str) -> list[str]:
        """The run ids the worker claimed, in the order it claimed them."""
        return [
            line.removeprefix("claimed ")
            for line in self.said(tag).splitlines()
            if line.startswith("claimed ")
        ]

    def stop_all(self) -> None:
        for worker in self.workers.values():
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)

    @staticmethod
    def wait_for(condition: Callable[[], bool], *, within_s: float = 60.0) -> bool:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def batches_created(self) -> int:
        """Batches the emulator was asked to create, counted at the emulator."""
        with OpenAI(base_url=self.base_url, api_key=KEY, max_retries=0) as client:
            return len(client.batches.list(limit=100).data)

    def rows(self, query: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.store) as conn:
            return list(conn.execute(query, params).fetchall())

    def status(self, run_id: str) -> str | None:
        found = self.rows("SELECT status FROM jobs WHERE id = %s", run_id)
        return None if not found else str(found[0][0])

    def result_ids(self, run_id: str) -> list[str]:
        """The custom_id of every result line `batchery jobs results` writes for the run."""
        out = self.root / f"{run_id}.results.jsonl"
        done = subprocess.run(
            batchery("jobs", "results", run_id, "--out", str(out)),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return sorted(json.loads(line)["custom_id"] for line in out.read_text().splitlines())

    def queued(self) -> list[tuple[object, ...]]:
        """(run id, queue status) of every entry still in pgqueuer's table."""
        rows = self.rows("SELECT dedupe_key, status FROM pgqueuer ORDER BY id")
        return [(str(key), str(status)) for key, status in rows]


@pytest.fixture
def time_scale() -> str:
    """How much faster than real time the emulator finishes batches; at 40x a batch of 50
    takes about 1.5 s."""
    return "40"


@pytest.fixture
def emulator_url(time_scale: str) -> Iterator[str]:
    with emulator_process("openai", "--time-scale", time_scale) as base_url:
        yield base_url


@pytest.fixture
def queue(tmp_path: Path, emulator_url: str, postgres_url: str) -> Iterator[Queue]:
    q = Queue(tmp_path, emulator_url, postgres_url)
    try:
        yield q
    finally:
        q.stop_all()
