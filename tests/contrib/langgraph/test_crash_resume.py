"""SIGKILL a graph while verify's batch is in flight, resume its thread in a new process.

Everything is a separate process, as in production: the OpenAI emulator (`batchery emulate`),
the graph that is killed, the one that resumes the thread from the checkpointer, and an
uninterrupted run to compare with. The emulator is the witness: it counts the batches created.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types import Batch

from .checkpointed_graph import KEY, comparable

GRAPH = Path(__file__).with_name("checkpointed_graph.py")
TIME_SCALE = "8"
"""Slow enough that a batch stays in flight for seconds: validating alone takes 20 s emulated."""


@contextmanager
def emulator() -> Iterator[str]:
    """`batchery emulate openai` on a free port, as its own process; its base URL."""
    command = [sys.executable, "-m", "batchery", "emulate", "openai", "--port", "0"]
    with subprocess.Popen(
        [*command, "--time-scale", TIME_SCALE],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            assert line.startswith("base URL: "), line
            yield line.removeprefix("base URL: ").strip()
        finally:
            process.terminate()
            process.wait(timeout=10)


def batches(base_url: str) -> list[Batch]:
    """Every batch the emulator was asked to create, oldest first, as OpenAI's SDK lists them."""
    with openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0) as client:
        return sorted(client.batches.list(limit=100), key=lambda b: b.created_at)


def graph_command(base_url: str, tmp: Path, saver: str, thread: str) -> list[str]:
    store = str(tmp / f"{thread}-jobs.db")
    return [
        *(sys.executable, str(GRAPH), "--base-url", base_url, "--store", store),
        *("--saver", saver, "--thread", thread),
    ]


def run_graph(command: list[str]) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    final: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return final


def kill_while_the_second_batch_is_in_flight(command: list[str], base_url: str) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            listed = batches(base_url)
            if len(listed) == 2 and listed[1].status in ("validating", "in_progress"):
                break
            assert process.poll() is None, "the graph ended before verify's batch was seen"
            time.sleep(0.05)
        else:
            pytest.fail("verify's batch never showed up in flight")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_killed_graph_resumes_its_thread_without_a_second_batch(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    def saver(name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:{tmp_path / name}"
        url: str = request.getfixturevalue("postgres_url")
        return f"postgres:{url}"

    with emulator() as base_url:
        killed = graph_command(base_url, tmp_path, saver("killed-checkpoints.db"), "killed")
        kill_while_the_second_batch_is_in_flight(killed, base_url)
        in_flight = batches(base_url)[1]
        assert in_flight.status in ("validating", "in_progress")

        resumed = run_graph([*killed, "--resume"])
        after_resume = batches(base_url)

        uninterrupted = run_graph(
            graph_command(base_url, tmp_path, saver("clean-checkpoints.db"), "clean")
        )

    assert len(after_resume) == 2, "resuming submitted another batch"
    assert after_resume[1].id == in_flight.id
    assert after_resume[1].status == "completed"
    assert comparable(resumed) == comparable(uninterrupted)
    assert resumed["summary"]["modes"] == ["batch", "batch"]
