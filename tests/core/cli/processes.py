"""`batchery` as a user runs it: a subprocess of the real entry point, and emulators started
as separate processes (`batchery emulate NAME`) reached over `--base-url`; the `emulated`
fixture in conftest hands out `running_emulator`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

EmulatorFactory = Callable[..., AbstractContextManager[str]]

API_PATHS = {"openai": "/v1", "voyage": "/v1", "openai-compatible": "/v1"}
"""Where each provider's API sits under the emulator's address; the rest use the bare origin."""


def batchery(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `batchery ARGS` with no `BATCHERY_*` or key variables but those in `env`."""
    keep = ("BATCHERY_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "VOYAGE_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(keep)}
    return subprocess.run(
        [sys.executable, "-m", "batchery", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


@contextmanager
def running_emulator(name: str, *options: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchery", "emulate", name, "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), first
        yield first.removeprefix("listening on ") + API_PATHS.get(name, "")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
