"""`batchery emulate NAME` as its own process, for tests that reach it as a real endpoint."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

__all__ = ["emulator_process"]


@contextmanager
def emulator_process(name: str, *args: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start the emulator, wait for its `listening on URL` line, and yield its base URL
    (with `/v1`); it is stopped with SIGTERM on the way out, as a person would stop it."""
    proc = subprocess.Popen(  # noqa: S603 (this interpreter running batchery itself)
        [sys.executable, "-m", "batchery", "emulate", name, *args],
        env=None if env is None else dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        if not first.startswith("listening on http://"):
            raise RuntimeError(f"batchery emulate {name} did not start: {first!r}")
        yield first.removeprefix("listening on ") + "/v1"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
