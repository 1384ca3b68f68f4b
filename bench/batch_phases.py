"""Where a `batchery run --mode batch` spends its wall time, phase by phase.

Runs the real CLI in this process against `batchery emulate openai` (its own process) and
times each phase by wrapping the function that does it: read (parse the file), plan
(validate, cache lookup, mode and chunks), ledger (the job and its requests stored), submit
(each chunk read back, spooled and uploaded, the batch created), collect (download, parse,
store; the batches are collected at once) with the gap before it the wait for the provider,
cache (answers cached) and write (the results file). Overlapping phases are each timed whole.

    uv run python bench/batch_phases.py [--requests 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import batchery.cli._running as running
from _harness import KEY, emulator_process
from batch_side_by_side import write_input
from batchery.cli import cli
from batchery.cli._errors import run_cli
from batchery.service import batch_llm_service, batch_runner

_SPANS: list[tuple[str, float, float, float, float]] = []
_START = time.perf_counter()


def _timed(owner: Any, name: str, phase: str) -> None:
    """Replace `owner.name` with itself timed under `phase`."""
    original: Callable[..., Any] = getattr(owner, name)

    def record(started: float) -> None:
        ended = time.perf_counter() - _START
        _SPANS.append((phase, started - _START, ended, rss_mb(), peak_rss_mb()))

    if original.__code__.co_flags & inspect.CO_COROUTINE:

        @functools.wraps(original)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                record(started)

        setattr(owner, name, timed_async)
    else:

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record(started)

        setattr(owner, name, timed)


def instrument() -> None:
    service = batch_llm_service.BatchLlmService
    runner = batch_runner.BatchRunner
    _timed(running, "read_input", "read")
    _timed(service, "plan", "plan")
    _timed(service, "_create", "ledger")
    _timed(runner, "_submit", "submit")
    _timed(runner, "_collect", "collect")
    _timed(batch_llm_service, "remember_answers", "cache")
    _timed(running, "write_results", "write")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    instrument()
    with tempfile.TemporaryDirectory() as tmp, emulator_process("--time-scale", "100000") as url:
        scratch = Path(tmp)
        source = scratch / "input.jsonl"
        write_input(source, args.requests)
        os.environ |= {
            "OPENAI_API_KEY": KEY,
            "BATCHERY_POLL_INTERVAL_S": "0.2",
            "BATCHERY_POLL_MAX_INTERVAL_S": "0.2",
            "BATCHERY_LOG_LEVEL": "warning",
        }
        argv = ["run", str(source), "--mode", "batch", "--base-url", url]
        argv += ["--store", str(scratch / "phases.db"), "--out", str(scratch / "out.jsonl")]
        sys.argv = ["batchery", *argv]
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            code = run_cli(cli)
        total = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"batchery run exited {code}")
    print(f"{args.requests} requests, batch mode, phases of one run (wall seconds; RSS at")
    print("  the phase's end and the process's peak RSS so far)")
    for phase, began, ended, rss, peak in _SPANS:
        print(
            f"  {phase:8} {began:6.2f} -> {ended:6.2f}  ({ended - began:5.2f} s)"
            f"  RSS {rss:5.0f} MB, peak {peak:5.0f} MB"
        )
    print(f"  total    {total:6.2f} s; peak RSS {peak_rss_mb():.0f} MB")


def rss_mb() -> float:
    """The process's resident memory now, from /proc (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
